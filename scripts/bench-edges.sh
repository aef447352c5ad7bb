#!/usr/bin/env bash
# The market-data edge tier against the core alone, in one sitting (docs/BENCHMARKS.md,
# "Edge tier"): for each subscriber count, `bourse bench feed` with the subscribers spread
# over 3 `bourse edge` processes (NATS JetStream between), then on the core alone (NATS off).
# Same order flow, same hot symbol, same measuring window.
#
#   scripts/bench-edges.sh [SUBSCRIBERS...]     (default: 10000 30000)
#   RATE=20 DURATION=10 WARMUP=3 OUT=target/bench-edges scripts/bench-edges.sh
#
# A process holds at most `ulimit -Hn` sockets: the subscribers are split over several
# client processes (the first drives the orders), and a core alone cannot hold more
# subscribers than that limit (it is then run with as many as fit, and the report says so).
set -euo pipefail
cd "$(dirname "$0")/.."

COUNTS=("$@")
[[ ${#COUNTS[@]} -gt 0 ]] || COUNTS=(10000 30000)
RATE=${RATE:-20}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-3}
OUT=${OUT:-target/bench-edges}
BIN=${BIN:-target/release/bourse}
PER_CLIENT=${PER_CLIENT:-15000}
NATS_URL=${NATS_URL:-nats://127.0.0.1:4222}
TOKEN=bench-operator-token-0123456789
mkdir -p "$OUT"

[[ -x "$BIN" ]] || cargo build --release -p bourse-server --bin bourse
scripts/ensure-nats.sh
# 30,000 sockets to one port need more than Linux's default ephemeral range (best effort).
sysctl -qw net.ipv4.ip_local_port_range="1024 65535" 2>/dev/null || true
ulimit -n "$(ulimit -Hn)"
LIMIT=$(ulimit -n)

# The servers of the current round, one pid a line (`start` runs in a command substitution,
# a subshell: a shell variable would not reach this one).
RUNNING="$OUT/running.pids"
: >"$RUNNING"
cleanup() {
  local p
  while read -r p; do
    kill "$p" 2>/dev/null || true
    while kill -0 "$p" 2>/dev/null; do sleep 0.1; done
  done <"$RUNNING"
  : >"$RUNNING"
}
trap cleanup EXIT

# Starts "$@" with its stdout in $1.out; waits for its "listening on http://ADDR" line and
# prints ADDR.
start() {
  local name=$1
  shift
  "$@" >"$OUT/$name.out" 2>"$OUT/$name.err" &
  echo $! >>"$RUNNING"
  echo $! >"$OUT/$name.pid"
  for _ in $(seq 600); do
    if grep -q "listening on http://" "$OUT/$name.out" 2>/dev/null; then
      grep -o "listening on http://[^ ]*" "$OUT/$name.out" | head -n 1 | sed 's/listening on http:\/\///'
      return 0
    fi
    sleep 0.1
  done
  echo "bench-edges: $name did not start (see $OUT/$name.err)" >&2
  exit 1
}

# Deletes a JetStream stream (the NATS protocol over bash's /dev/tcp: no client needed).
delete_stream() {
  local hostport=${NATS_URL#nats://}
  exec 3<>"/dev/tcp/${hostport%:*}/${hostport##*:}" || return 0
  printf 'CONNECT {"verbose":false}\r\nPUB $JS.API.STREAM.DELETE.%s 0\r\n\r\nPING\r\n' "$1" >&3
  timeout 2 grep -q PONG <&3 || true
  exec 3>&-
}

core_env() {
  local dir=$1
  echo BOURSE__JOURNAL__BACKEND=file BOURSE__JOURNAL__DIR="$dir" \
    BOURSE__SERVER__LISTEN=127.0.0.1:0 BOURSE__SERVER__OPERATOR_TOKEN=$TOKEN \
    BOURSE__SERVER__RATE_PER_CREDENTIAL=1000000000 BOURSE__SERVER__RATE_PER_IP=1000000 \
    BOURSE__FEED__MAX_CONNECTIONS=40000 BOURSE__LOG__LEVEL=warn
}

# run_clients LABEL N CORE_ADDR CORE_PID [--edge URL --edge-pid PID ...]
run_clients() {
  local label=$1 n=$2 core=$3 core_pid=$4
  shift 4
  local procs=$(((n + PER_CLIENT - 1) / PER_CLIENT))
  local each=$((n / procs))
  local cpids=()
  for i in $(seq 0 $((procs - 1))); do
    local extra=()
    [[ $i -eq 0 ]] || extra=(--no-orders)
    local count=$each
    [[ $i -ne 0 ]] || count=$((n - each * (procs - 1)))
    "$BIN" bench feed --url "http://$core" --operator-token $TOKEN --server-pid "$core_pid" \
      --connections "$count" --rate "$RATE" --duration "$DURATION" \
      --warmup "$WARMUP" --quiet \
      --json "$OUT/$label.client$i.json" "${extra[@]}" "$@" \
      >/dev/null 2>"$OUT/$label.client$i.err" &
    cpids+=($!)
  done
  for p in "${cpids[@]}"; do wait "$p" || echo "bench-edges: a client of $label failed (see $OUT)" >&2; done
  python3 - "$OUT" "$label" "$procs" <<'PY'
import json, sys
out, label, procs = sys.argv[1], sys.argv[2], int(sys.argv[3])
rs = []
for i in range(procs):
    try:
        rs.append(json.load(open(f"{out}/{label}.client{i}.json")))
    except OSError:
        pass
if not rs:
    print(f"{label}: no report"); sys.exit(0)
msgs = sum(r["messages_per_sec"] for r in rs)
subs = sum(r["connections"] for r in rs)
lat = [r["latency_engine_to_client"] for r in rs]
def ms(k): return "/".join(f"{l[k] / 1e3:.1f}" if isinstance(l.get(k), (int, float)) else str(l.get(k)) for l in lat)
r0 = rs[0]
print(f"{label}: {subs} subscribers, {r0['orders_sent_per_sec']:.0f} orders/s -> {msgs:,.0f} msg/s delivered; "
      f"p50 {ms('p50_us')} ms, p99 {ms('p99_us')} ms (per client process); "
      f"CPU % core {r0['server_cpu_pct']}, edges {r0['edge_cpu_pct']}, clients {[r['client_cpu_pct'] for r in rs]}; "
      f"gaps {sum(r['book_seq_gaps'] for r in rs)}, slow disconnects {r0['slow_disconnects']}, closed {sum(r['subscribers_closed'] for r in rs)}")
PY
}

for N in "${COUNTS[@]}"; do
  # 1. Core + 3 edges over NATS.
  run=$$_$N
  dir=$(mktemp -d)
  core=$(start "edges$N.core" env $(core_env "$dir") BOURSE__NATS__URL="$NATS_URL" \
    BOURSE__NATS__STREAM="BENCH_$run" BOURSE__NATS__SUBJECT_PREFIX="bench_$run" \
    BOURSE__NATS__MAX_AGE_SECS=3600 "$BIN" serve)
  core_pid=$(cat "$OUT/edges$N.core.pid")
  edge_args=()
  for e in 1 2 3; do
    addr=$(start "edges$N.edge$e" env BOURSE__NATS__URL="$NATS_URL" \
      BOURSE__NATS__STREAM="BENCH_$run" BOURSE__NATS__SUBJECT_PREFIX="bench_$run" \
      BOURSE__EDGE__LISTEN=127.0.0.1:0 BOURSE__EDGE__CORE_URL="http://$core" \
      BOURSE__SERVER__RATE_PER_IP=1000000 BOURSE__FEED__MAX_CONNECTIONS=40000 \
      BOURSE__LOG__LEVEL=warn "$BIN" edge)
    edge_args+=(--edge "http://$addr" --edge-pid "$(cat "$OUT/edges$N.edge$e.pid")")
  done
  run_clients "edges$N" "$N" "$core" "$core_pid" "${edge_args[@]}"
  cleanup
  delete_stream "BENCH_$run"
  rm -rf "$dir"

  # 2. The core alone (NATS off), as many subscribers as it can hold.
  n=$N
  if ((n + 200 > LIMIT)); then
    n=$((LIMIT - 1000))
    echo "core$N: the core holds at most $LIMIT sockets (ulimit -Hn): running $n subscribers, not $N"
  fi
  dir=$(mktemp -d)
  core=$(start "core$N.core" env $(core_env "$dir") "$BIN" serve)
  run_clients "core$N" "$n" "$core" "$(cat "$OUT/core$N.core.pid")"
  cleanup
  rm -rf "$dir"
done
