#!/usr/bin/env bash
# Installs everything weft builds with, from Debian 12's packages.
set -euo pipefail
packages=(
  cmake g++ ninja-build ccache
  libcaf-dev
  capnproto libcapnp-dev
  libboost1.81-dev libboost-json1.81-dev
  catch2
  libgraphviz-dev pkg-config
  librocksdb-dev libssl-dev
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "weft: all build dependencies are installed"
  exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "weft: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
