#!/usr/bin/env bash
# Takeover time of a hot standby: runs the failover test (crates/bourse-server/tests/failover.rs)
# for ROUNDS rounds (default 20; alternately SIGKILL and SIGSTOP of the primary under order
# load) on the release build, and summarises "primary stopped -> first order answered by
# the new primary" over the rounds: p50 / p99 / max in milliseconds.
#   scripts/failover-bench.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-20}"
scripts/ensure-postgres.sh >/dev/null
log="$(mktemp)"
BOURSE_FAILOVER_ROUNDS="$rounds" cargo test --release -q -p bourse-server --test failover \
  -- --nocapture 2>&1 | tee "$log" | grep '^takeover:' || true
python3 - "$log" <<'PY'
import re, sys
answered, listening = [], []
for line in open(sys.argv[1]):
    m = re.match(r"takeover: round \d+ \((\w+)\) listening after (\d+) ms, first order answered after (\d+) ms", line)
    if m:
        listening.append(int(m.group(2))); answered.append(int(m.group(3)))
if not answered:
    sys.exit("no takeover lines: the test failed (see above)")
def pct(v, p):
    v = sorted(v); return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]
for name, v in (("listening", listening), ("first order answered", answered)):
    print(f"{name}: n={len(v)} p50={pct(v,50)} ms p99={pct(v,99)} ms max={max(v)} ms")
PY
