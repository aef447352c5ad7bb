#!/usr/bin/env bash
# Sets up what the web page needs (idempotent; quiet when all is well):
#   scripts/ensure-web.sh          the page's npm packages (npm ci from the committed lockfile)
#   scripts/ensure-web.sh browser  also Debian's chromium and chromium-driver, for the
#                                  end-to-end tests in a real headless browser
# No browser is ever downloaded by npm: the tests drive /usr/bin/chromium (or $CHROMIUM).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
web="$root/web"

fail() {
    echo "ensure-web: $*" >&2
    exit 1
}

command -v node >/dev/null 2>&1 || fail "node is not installed (Node 20 or newer is needed)"
command -v npm >/dev/null 2>&1 || fail "npm is not installed"
major="$(node -p 'process.versions.node.split(".")[0]')"
[[ "$major" -ge 20 ]] || fail "node $major is too old: Node 20 or newer is needed"

# npm ci only when the lockfile changed since the last install (node_modules keeps a copy).
stamp="$web/node_modules/.package-lock.json"
if [[ ! -f "$stamp" || "$web/package-lock.json" -nt "$stamp" ]]; then
    echo "ensure-web: npm ci in web/" >&2
    (cd "$web" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
fi

if [[ "${1:-}" == "browser" ]]; then
    chromium="${CHROMIUM:-/usr/bin/chromium}"
    if [[ ! -x "$chromium" ]]; then
        command -v apt-get >/dev/null 2>&1 ||
            fail "$chromium not found and apt-get is not available: install Chromium and set CHROMIUM"
        sudo=()
        if [[ $EUID -ne 0 ]]; then
            command -v sudo >/dev/null 2>&1 || fail "installing chromium needs root"
            sudo=(sudo -n)
        fi
        echo "ensure-web: installing Debian's chromium and chromium-driver" >&2
        export DEBIAN_FRONTEND=noninteractive
        # The package lists may be missing or stale on a fresh machine.
        "${sudo[@]}" apt-get install -y -qq chromium chromium-driver >/dev/null 2>&1 || {
            "${sudo[@]}" apt-get update -qq >/dev/null
            "${sudo[@]}" apt-get install -y -qq chromium chromium-driver >/dev/null
        }
        [[ -x "$chromium" ]] || fail "chromium was installed but $chromium is missing"
    fi
fi
