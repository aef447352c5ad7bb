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
set -euo pipefail

if [[ $# -lt 2 || $# -gt 3 ]]; then
    echo "usage: $0 BASE_URL SYMBOL [SECONDS]" >&2
    exit 2
fi
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
exec "$root/scripts/py-venv.sh" "$root/scripts/feed_client.py" "$@"
