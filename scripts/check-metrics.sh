#!/usr/bin/env bash
# Checks bourse's GET /metrics with an independent parser: the official Prometheus Python
# client's OpenMetrics parser (the `prometheus_client` package from PyPI).
#
#   scripts/check-metrics.sh [URL | -]
#
#   URL  e.g. http://127.0.0.1:8080/metrics (the server must be running); "-" or nothing:
#        the exposition is read from stdin
#
# Parses the exposition, checks its structure (HELP and TYPE for every family, finite
# values, histogram buckets ascending and cumulative, _count equal to the +Inf bucket; see
# scripts/check-metrics.py) and prints one JSON line with every family and sample; exits 0
# only if the exposition is well formed.
#
# Environment: BOURSE_PY_VENV (default target/py-venv under the repository): the virtualenv,
# created once and reused; the pinned package is installed only when missing.
set -euo pipefail

PROMETHEUS_CLIENT_VERSION="0.26.0"

if [[ $# -gt 1 ]]; then
    echo "usage: $0 [URL | -]" >&2
    exit 2
fi
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${BOURSE_PY_VENV:-$root/target/py-venv}"
python="$(command -v python3 || true)"
if [[ -z "$python" ]]; then
    echo "check-metrics: python3 is not installed" >&2
    exit 3
fi

# Bounded waits where coreutils' timeout exists (not on stock macOS).
limit() {
    local secs="$1"
    shift
    if command -v timeout >/dev/null; then
        timeout "$secs" "$@"
    else
        "$@"
    fi
}

if [[ ! -x "$venv/bin/python" ]]; then
    rm -rf "$venv"
    "$python" -m venv "$venv" || {
        echo "check-metrics: '$python -m venv' failed (on Debian/Ubuntu: apt-get install python3-venv)" >&2
        exit 3
    }
fi
installed="$("$venv/bin/python" -c \
    'import importlib.metadata as m; print(m.version("prometheus_client"))' 2>/dev/null || true)"
if [[ "$installed" != "$PROMETHEUS_CLIENT_VERSION" ]]; then
    ok=""
    for attempt in 1 2 3; do
        if limit 300 "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
            --timeout 60 --retries 5 "prometheus_client==$PROMETHEUS_CLIENT_VERSION" >&2; then
            ok=1
            break
        fi
        echo "check-metrics: pip install failed (attempt $attempt of 3); retrying" >&2
        sleep $((attempt * 5))
    done
    [[ -n "$ok" ]] || { echo "check-metrics: could not install prometheus_client from PyPI" >&2; exit 3; }
fi
exec "$venv/bin/python" "$root/scripts/check-metrics.py" "$@"
