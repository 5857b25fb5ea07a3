#!/usr/bin/env bash
# Installs weft from BUILD into a scratch prefix, builds the consumer
# project against it with find_package(weft), and runs it.
set -euo pipefail
build=$1
src=$(cd "$(dirname "$0")" && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cmake --install "$build" --prefix "$scratch/prefix" >/dev/null
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S "$src" -B "$scratch/consumer" -DCMAKE_PREFIX_PATH="$scratch/prefix" \
  "${launcher[@]}" >/dev/null
cmake --build "$scratch/consumer" >/dev/null
"$scratch/consumer/weft_consumer"
