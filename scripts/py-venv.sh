#!/usr/bin/env bash
# Runs a Python script of ours in the project's virtualenv, with the pinned packages from
# PyPI that the script needs (independent clients the tests use):
#
#   [BOURSE_PY_PACKAGE="NAME==VERSION ..."] scripts/py-venv.sh SCRIPT.py [ARGS...]
#
# BOURSE_PY_PACKAGE: one or more space-separated pins; defaults to websockets==15.0.1.
# BOURSE_PY_VENV (default target/py-venv under the repository): the virtualenv, created once
# and shared; a package is installed only when missing or at another version.
set -euo pipefail

read -r -a packages <<<"${BOURSE_PY_PACKAGE:-websockets==15.0.1}"
for package in "${packages[@]}"; do
    if [[ "$package" != *==* ]]; then
        echo "py-venv: '$package' in BOURSE_PY_PACKAGE is not a NAME==VERSION pin" >&2
        exit 2
    fi
done
# Bounded waits where coreutils' timeout exists (not on stock macOS).
limit() {
    local secs="$1"
    shift
    if command -v timeout >/dev/null 2>&1; then timeout "$secs" "$@"; else "$@"; fi
}

if [[ $# -lt 1 ]]; then
    echo "usage: $0 SCRIPT.py [ARGS...]" >&2
    exit 2
fi
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${BOURSE_PY_VENV:-$root/target/py-venv}"
python="$(command -v python3 || true)"
if [[ -z "$python" ]]; then
    echo "py-venv: python3 is not installed" >&2
    exit 3
fi
# Tests run in parallel: one of them sets the virtualenv up, the others wait for it.
mkdir -p "$(dirname "$venv")"
exec 9>"$venv.lock"
flock 9
if [[ ! -x "$venv/bin/python" ]]; then
    rm -rf "$venv"
    "$python" -m venv "$venv" || {
        echo "py-venv: '$python -m venv' failed (on Debian/Ubuntu: apt-get install python3-venv)" >&2
        exit 3
    }
fi
# The pins not installed at their version.
missing=()
for package in "${packages[@]}"; do
    name="${package%%==*}"
    version="${package##*==}"
    installed="$("$venv/bin/python" -c \
        "import importlib.metadata as m; print(m.version('$name'))" 2>/dev/null || true)"
    [[ "$installed" == "$version" ]] || missing+=("$package")
done
if [[ ${#missing[@]} -gt 0 ]]; then
    ok=""
    for attempt in 1 2 3; do
        if limit 300 "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
            --timeout 60 --retries 5 "${missing[@]}" >&2; then
            ok=1
            break
        fi
        echo "py-venv: pip install failed (attempt $attempt of 3); retrying" >&2
        sleep $((attempt * 5))
    done
    [[ -n "$ok" ]] || { echo "py-venv: could not install ${missing[*]} from PyPI" >&2; exit 3; }
fi
exec 9>&-
exec "$venv/bin/python" "$@"
