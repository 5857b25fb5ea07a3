#!/usr/bin/env bash
# Installs everything weft builds and tests with, from Debian 12's packages,
# and the npm dependencies of the browser test (tests/browser).
set -euo pipefail
cd "$(dirname "$0")/.."
packages=(
  cmake g++ ninja-build ccache
  libcaf-dev
  capnproto libcapnp-dev
  libboost1.81-dev libboost-json1.81-dev
  catch2
  libgraphviz-dev pkg-config
  librocksdb-dev libssl-dev
  # The dashboard's browser test: headless Chromium driven from Node.
  chromium nodejs
)
# npm is Debian's package, unless the installed node brings its own
# (NodeSource's nodejs does, and conflicts with Debian's npm).
command -v npm >/dev/null || packages+=(npm)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$p")
done
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
if [ ${#missing[@]} -eq 0 ]; then
  echo "weft: all build dependencies are installed"
else
  echo "weft: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi

# puppeteer-core, as tests/browser/package-lock.json pins it, into
# tests/browser/node_modules; no browser is downloaded (the test drives
# /usr/bin/chromium). Again only when the lock file changed.
browser=tests/browser
if [ ! -f $browser/node_modules/.package-lock.json ] \
   || [ $browser/package-lock.json -nt $browser/node_modules/.package-lock.json ]; then
  echo "weft: installing the browser test's npm dependencies into $browser/node_modules"
  # Under sudo, as the user who ran it: the tree stays theirs.
  as_user=()
  [ "$(id -u)" -eq 0 ] && [ -n "${SUDO_USER:-}" ] && as_user=(sudo -u "$SUDO_USER")
  "${as_user[@]}" env PUPPETEER_SKIP_DOWNLOAD=1 \
    npm ci --prefix $browser --no-audit --no-fund --loglevel=error
else
  echo "weft: the browser test's npm dependencies are installed"
fi
