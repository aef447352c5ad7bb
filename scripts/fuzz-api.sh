#!/usr/bin/env bash
# Schema-driven fuzzing of the HTTP API with Schemathesis (an independent tool, from PyPI),
# driven by the server's own OpenAPI document (GET /openapi.json).
#
#   scripts/fuzz-api.sh BASE_URL TOKEN [OPERATOR_TOKEN]
#
#   BASE_URL        e.g. http://127.0.0.1:8080 (the server must be running)
#   TOKEN           a user's session token or API key: every operation is fuzzed with it
#                   (the operator routes then answer 403, which is checked too)
#   OPERATOR_TOKEN  optional: the operator routes (tag "operator") are fuzzed once more with
#                   it, after the user's pass
#
# Environment:
#   BOURSE_FUZZ_EXAMPLES  most generated cases per operation and phase (default 25: about
#                         half a minute against a test build on two cores)
#   BOURSE_FUZZ_SEED      random seed (default 20261121): the same seed, the same cases
#   BOURSE_FUZZ_WORKERS   concurrent workers (default 1, deterministic order)
#   BOURSE_FUZZ_PHASES    Schemathesis phases (default examples,coverage,fuzzing,stateful)
#   BOURSE_FUZZ_VENV      the virtualenv (default target/fuzz-venv under the repository)
#   BOURSE_FUZZ_REPORT    directory for the JUnit report (default target/fuzz-report)
#
# Checks: no 5xx (not_a_server_error), every status documented (status_code_conformance),
# JSON where JSON is documented (content_type_conformance), documented headers present
# (response_headers_conformance), and every body valid against its schema
# (response_schema_conformance). Any failure exits non-zero.
#
# The virtualenv is created once and reused; the pip install is pinned, retried and bounded
# by timeouts, and skipped when the pinned version is already there.
set -euo pipefail

SCHEMATHESIS_VERSION="4.32.5"

if [[ $# -lt 2 || $# -gt 3 ]]; then
    echo "usage: $0 BASE_URL TOKEN [OPERATOR_TOKEN]" >&2
    exit 2
fi
base_url="${1%/}"
token="$2"
operator_token="${3:-}"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${BOURSE_FUZZ_VENV:-$root/target/fuzz-venv}"
examples="${BOURSE_FUZZ_EXAMPLES:-25}"
seed="${BOURSE_FUZZ_SEED:-20261121}"
workers="${BOURSE_FUZZ_WORKERS:-1}"
phases="${BOURSE_FUZZ_PHASES:-examples,coverage,fuzzing,stateful}"
report="${BOURSE_FUZZ_REPORT:-$root/target/fuzz-report}"

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

python="$(command -v python3 || true)"
if [[ -z "$python" ]]; then
    echo "fuzz-api: python3 is not installed; Schemathesis needs Python >= 3.9 with venv and pip" >&2
    exit 3
fi

# The virtualenv: create once, reuse after.
if [[ ! -x "$venv/bin/python" ]]; then
    echo "fuzz-api: creating the virtualenv $venv"
    rm -rf "$venv"
    if ! "$python" -m venv "$venv"; then
        echo "fuzz-api: '$python -m venv' failed (on Debian/Ubuntu: apt-get install python3-venv)" >&2
        exit 3
    fi
fi
st="$venv/bin/schemathesis"
installed="$("$venv/bin/python" -c \
    'import importlib.metadata as m; print(m.version("schemathesis"))' 2>/dev/null || true)"
if [[ "$installed" != "$SCHEMATHESIS_VERSION" || ! -x "$st" ]]; then
    echo "fuzz-api: installing schemathesis==$SCHEMATHESIS_VERSION into $venv"
    ok=""
    for attempt in 1 2 3; do
        if limit 600 "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
            --timeout 60 --retries 5 "schemathesis==$SCHEMATHESIS_VERSION"; then
            ok=1
            break
        fi
        echo "fuzz-api: pip install failed (attempt $attempt of 3); retrying" >&2
        sleep $((attempt * 5))
    done
    if [[ -z "$ok" ]]; then
        echo "fuzz-api: could not install schemathesis==$SCHEMATHESIS_VERSION from PyPI" >&2
        exit 3
    fi
fi

# The schema must be served before anything is fuzzed.
schema_url="$base_url/openapi.json"
served=""
for _ in $(seq 1 50); do
    if "$venv/bin/python" -c \
        'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=5)' \
        "$schema_url" 2>/dev/null; then
        served=1
        break
    fi
    sleep 0.2
done
if [[ -z "$served" ]]; then
    echo "fuzz-api: no OpenAPI document at $schema_url (is the server running?)" >&2
    exit 4
fi

mkdir -p "$report"
report="$(cd "$report" && pwd)"
venv="$(cd "$venv" && pwd)"
st="$venv/bin/schemathesis"
# Schemathesis keeps its replay cache (.schemathesis/) in the working directory: keep it
# under target/, not in the checkout.
cd "$report"
checks="not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance"

# One Schemathesis run; extra arguments select operations.
run() {
    local name="$1" bearer="$2"
    shift 2
    echo "fuzz-api: $name: $examples examples per operation and phase, seed $seed"
    NO_COLOR=1 limit 1800 "$st" run "$schema_url" \
        --url "$base_url" \
        --header "Authorization: Bearer $bearer" \
        --checks "$checks" \
        --phases "$phases" \
        --mode all \
        --max-examples "$examples" \
        --seed "$seed" \
        --workers "$workers" \
        --generation-database none \
        --request-timeout 30 \
        --no-color \
        --output-sanitize true \
        --report junit \
        --report-junit-path "$report/$name.xml" \
        --suppress-health-check all \
        "$@"
}

status=0
run user "$token" || status=$?
if [[ -n "$operator_token" && $status -eq 0 ]]; then
    run operator "$operator_token" --include-tag operator || status=$?
fi
if [[ $status -ne 0 ]]; then
    echo "fuzz-api: FAILED (exit $status); JUnit reports in $report" >&2
    exit "$status"
fi
echo "fuzz-api: passed; JUnit reports in $report"
