#!/usr/bin/env bash
# Makes sure the PostgreSQL the tests use is running at 127.0.0.1:5432 and has the database
# `test` (idempotent; quiet when all is well). The journal tests connect as `postgres` with
# trust auth, each in a schema of its own.
#
# With BOURSE_TEST_DATABASE_URL set, the tests use that database instead and this script
# leaves it alone: whoever set it manages that server.
set -euo pipefail

if [[ -n "${BOURSE_TEST_DATABASE_URL:-}" ]]; then
  exit 0
fi

HOST=127.0.0.1
PORT=5432
DB=test
WAIT_SECS=30

fail() {
  echo "ensure-postgres: $*" >&2
  exit 1
}

for tool in pg_isready psql createdb; do
  command -v "$tool" >/dev/null 2>&1 ||
    fail "$tool not found: install the PostgreSQL client tools, or set BOURSE_TEST_DATABASE_URL"
done

if ! pg_isready -q -h "$HOST" -p "$PORT"; then
  command -v pg_ctlcluster >/dev/null 2>&1 ||
    fail "nothing answers at $HOST:$PORT and pg_ctlcluster (Debian's postgresql-common) is \
not installed: start PostgreSQL yourself, or set BOURSE_TEST_DATABASE_URL"
  # The newest installed major version, if several are.
  version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
  [[ -n "$version" ]] || fail "no cluster under /etc/postgresql to start"
  start=(pg_ctlcluster --skip-systemctl-redirect "$version" main start)
  # pg_ctlcluster must run as root or as the cluster's owner; never prompt for a password.
  if [[ $EUID -ne 0 ]] && command -v sudo >/dev/null 2>&1; then
    start=(sudo -n "${start[@]}")
  fi
  if ! out=$("${start[@]}" 2>&1); then
    # A concurrent start (another make in parallel) is fine; anything else is reported
    # below if the server still does not come up.
    echo "$out" | grep -qi "already running" || echo "$out" >&2
  fi
  for ((i = 0; i < WAIT_SECS * 4; i++)); do
    pg_isready -q -h "$HOST" -p "$PORT" && break
    sleep 0.25
  done
  pg_isready -q -h "$HOST" -p "$PORT" ||
    fail "PostgreSQL $version (cluster main) did not accept connections at $HOST:$PORT within \
${WAIT_SECS}s; see /var/log/postgresql/postgresql-$version-main.log"
fi

exists=$(psql -h "$HOST" -p "$PORT" -U postgres -d postgres -XtAc \
  "SELECT 1 FROM pg_database WHERE datname = '$DB'") ||
  fail "cannot query $HOST:$PORT as user postgres (the tests expect trust auth for it)"
if [[ "$exists" != 1 ]]; then
  # Tolerate losing a race with a concurrent run creating it.
  createdb -h "$HOST" -p "$PORT" -U postgres "$DB" 2>/dev/null ||
    [[ $(psql -h "$HOST" -p "$PORT" -U postgres -d postgres -XtAc \
      "SELECT 1 FROM pg_database WHERE datname = '$DB'") == 1 ]] ||
    fail "could not create database $DB"
fi
