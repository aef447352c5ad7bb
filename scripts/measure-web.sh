#!/usr/bin/env bash
# The web page's figures, measured in headless Chromium against a release `bourse demo`:
# page weight, time from navigation to the first live quote (20 loads), and rendering under
# load (1,000 orders/s on AAPL from `bourse bench orders`): the share of slow frames and the
# page's JS heap over the run.
#
#   scripts/measure-web.sh [--minutes N]     (default 10; BOURSE_MEASURE_LOADS=20)
#
# Prints a summary and writes web/test-results/measure.json. Not part of `make test`: it
# takes minutes and its numbers depend on the machine.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
minutes=10
[[ "${1:-}" == "--minutes" ]] && minutes="$2"
cd "$root"
scripts/ensure-web.sh browser
npm --prefix web run --silent build
[[ -n "${BOURSE_MEASURE_NO_BUILD:-}" ]] || cargo build --release -q -p bourse-server --bin bourse
bin="$root/target/release/bourse"
dir="$(mktemp -d)"
port="${BOURSE_MEASURE_PORT:-18481}"
token="$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
url="http://127.0.0.1:$port"
(cd "$dir" && BOURSE__SERVER__LISTEN="127.0.0.1:$port" BOURSE__SERVER__OPERATOR_TOKEN="$token" \
    BOURSE__SERVER__RATE_PER_IP=1000 BOURSE__JOURNAL__DIR="$dir/journal" \
    exec "$bin" demo --rate 200 --day-minutes 0 >"$dir/server.log" 2>&1) &
server=$!
cleanup() {
    kill "$server" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT
for _ in $(seq 1 100); do
    curl -fs "$url/healthz" >/dev/null 2>&1 && break
    sleep 0.2
done
# The spec starts the 1,000 orders/s load itself once its page loads are measured.
BOURSE_BIN="$bin" BOURSE_URL="$url" BOURSE_OPERATOR_TOKEN="$token" BOURSE_MEASURE_MINUTES="$minutes" \
    npm --prefix web run --silent measure -- ${BOURSE_MEASURE_ARGS:-}
