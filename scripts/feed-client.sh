#!/usr/bin/env bash
# An independent market-data client (Python, the `websockets` package from PyPI) that builds
# a symbol's L2 book from the WebSocket stream and checks it against the REST snapshot.
#
#   scripts/feed-client.sh BASE_URL SYMBOL [SECONDS]
#
# It subscribes to `book` for SYMBOL, applies book_snapshot + book updates (checking that
# every update carries the next seq), keeps reading for SECONDS (default 5) and then until
# the stream has been quiet for 2 s, then fetches GET /v1/stocks/SYMBOL/book and compares
# levels and seq. Prints one JSON line with what it saw; exits 0 only if the books agree.
#
# Environment: BOURSE_PY_VENV (default target/py-venv under the repository): the virtualenv,
# created once and reused; the pinned package is installed only when missing.
set -euo pipefail

WEBSOCKETS_VERSION="15.0.1"

if [[ $# -lt 2 || $# -gt 3 ]]; then
    echo "usage: $0 BASE_URL SYMBOL [SECONDS]" >&2
    exit 2
fi
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${BOURSE_PY_VENV:-$root/target/py-venv}"
python="$(command -v python3 || true)"
if [[ -z "$python" ]]; then
    echo "feed-client: python3 is not installed" >&2
    exit 3
fi
if [[ ! -x "$venv/bin/python" ]]; then
    rm -rf "$venv"
    "$python" -m venv "$venv" || {
        echo "feed-client: '$python -m venv' failed (on Debian/Ubuntu: apt-get install python3-venv)" >&2
        exit 3
    }
fi
installed="$("$venv/bin/python" -c \
    'import importlib.metadata as m; print(m.version("websockets"))' 2>/dev/null || true)"
if [[ "$installed" != "$WEBSOCKETS_VERSION" ]]; then
    ok=""
    for attempt in 1 2 3; do
        if timeout 300 "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
            --timeout 60 --retries 5 "websockets==$WEBSOCKETS_VERSION"; then
            ok=1
            break
        fi
        echo "feed-client: pip install failed (attempt $attempt of 3); retrying" >&2
        sleep $((attempt * 5))
    done
    [[ -n "$ok" ]] || { echo "feed-client: could not install websockets from PyPI" >&2; exit 3; }
fi
exec "$venv/bin/python" "$root/scripts/feed_client.py" "$@"
