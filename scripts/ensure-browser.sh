#!/usr/bin/env bash
# Makes sure the browser tests can run: Debian's chromium, Node.js and npm
# (installed with apt-get when run as root), and playwright-core at the
# version pinned by e2e/browser/package-lock.json (npm ci, again whenever
# the lock file changes). Playwright never downloads a browser: the tests
# drive /usr/bin/chromium (or $CHROMIUM).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || missing+=(chromium)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "missing ${missing[*]}. Install with: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "installing ${missing[*]} from Debian's packages..." >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

dir=e2e/browser
stamp=$dir/node_modules/.flashgate-lock
if ! cmp -s "$dir/package-lock.json" "$stamp" 2>/dev/null; then
  echo "installing playwright-core (npm ci in $dir)..." >&2
  # Only the library: a browser download would fail here and is not needed.
  (cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
  cp "$dir/package-lock.json" "$stamp"
fi
