#!/usr/bin/env bash
# Builds the consumer project with find_package(weft) twice and runs it each
# time: against weft installed from BUILD into a scratch prefix, and against
# the build tree BUILD itself (CMAKE_PREFIX_PATH=BUILD).
set -euo pipefail
build=$(cd "$1" && pwd)
src=$(cd "$(dirname "$0")" && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)

consume() { # NAME PREFIX: configure, build and run the consumer
  local dir=$scratch/consumer-$1
  echo "-- consumer against the $1 ($2)"
  cmake -S "$src" -B "$dir" -DCMAKE_PREFIX_PATH="$2" "${launcher[@]}" >"$dir.log" 2>&1 ||
    { cat "$dir.log"; exit 1; }
  cmake --build "$dir" >>"$dir.log" 2>&1 || { cat "$dir.log"; exit 1; }
  if grep -q 'warning' "$dir.log"; then cat "$dir.log"; exit 1; fi
  # The consumer links libweft.so, Boost.JSON and Threads, nothing private.
  local link=$dir/CMakeFiles/weft_consumer.dir/link.txt
  if [ -f "$link" ] &&
     grep -oE '(-l|/lib)(caf_|capnp|kj|rocksdb|ssl|crypto|gvc|cgraph)[^ ]*' "$link"; then
    echo "the consumer links a private dependency of weft"; exit 1
  fi
  "$dir/weft_consumer"
  "$dir/weft_actor_consumer"
}

prefix=$scratch/prefix
cmake --install "$build" --prefix "$prefix" >/dev/null
# Only public headers are installed, and they include no private dependency
# (but CAF in actor_task.hpp, the header of actor tasks, which are CAF code;
# no other installed header includes it).
if [ -e "$prefix/include/weft/actors" ] || [ -e "$prefix/include/weft/schemas" ]; then
  echo "internal headers installed:"; find "$prefix/include" -type f; exit 1
fi
if grep -rnE '#include *[<"](caf|capnp|kj|rocksdb|openssl|graphviz|gvc|cgraph)[/.]' \
     --exclude=actor_task.hpp "$prefix/include" ||
   grep -nE '#include *[<"](capnp|kj|rocksdb|openssl|graphviz|gvc|cgraph)[/.]' \
     "$prefix/include/weft/actor_task.hpp" ||
   grep -rnE '#include *[<"]weft/actor_task.hpp' "$prefix/include"; then
  echo "an installed header includes a private dependency"; exit 1
fi
consume install "$prefix"
consume build-tree "$build"
