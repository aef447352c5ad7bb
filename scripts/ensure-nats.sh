#!/usr/bin/env bash
# Makes sure the NATS server with JetStream that the edge-tier tests use is running at
# 127.0.0.1:4222 (idempotent; quiet when all is well). Each test uses its own stream and
# subject prefix, and deletes its stream at the end.
#
# With BOURSE_TEST_NATS_URL set, the tests use that server instead and this script leaves
# it alone: whoever set it manages that server.
set -euo pipefail

if [[ -n "${BOURSE_TEST_NATS_URL:-}" ]]; then
  exit 0
fi

HOST=127.0.0.1
PORT=4222
BIN=/usr/sbin/nats-server
STORE=/var/lib/nats-server
WAIT_SECS=20

fail() {
  echo "ensure-nats: $*" >&2
  exit 1
}

up() { (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null; }

up && exit 0

if [[ ! -x "$BIN" ]]; then
  [[ $EUID -eq 0 ]] || fail "$BIN not found: install Debian's nats-server, or set BOURSE_TEST_NATS_URL"
  echo "ensure-nats: installing nats-server" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q nats-server >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null && apt-get install -y -q nats-server >/dev/null; } ||
    fail "could not install nats-server"
fi
mkdir -p "$STORE"
start-stop-daemon --start --oknodo --background --exec "$BIN" -- \
  -a "$HOST" -p "$PORT" -js -sd "$STORE" -l /var/log/nats-server.log

for _ in $(seq "$WAIT_SECS"); do
  up && exit 0
  sleep 1
done
fail "nats-server did not answer at $HOST:$PORT within ${WAIT_SECS}s (see /var/log/nats-server.log)"
