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
# Environment: BOURSE_PY_VENV, as for scripts/py-venv.sh.
set -euo pipefail

if [[ $# -gt 1 ]]; then
    echo "usage: $0 [URL | -]" >&2
    exit 2
fi
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BOURSE_PY_PACKAGE="prometheus_client==0.26.0" \
    exec "$root/scripts/py-venv.sh" "$root/scripts/check-metrics.py" "$@"
