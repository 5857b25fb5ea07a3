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
  "$dir/weft_actor_task_consumer"
}

prefix=$scratch/prefix
cmake --install "$build" --prefix "$prefix" >/dev/null
# Only public headers are installed, and they include no private dependency,
# except the interface for actor programs and actor tasks:
# workflow_actor.hpp, the two headers of the actor layer it includes and
# actor_task.hpp use CAF, and only CAF.
actor_api=(weft/workflow_actor.hpp weft/actors/fwd.hpp weft/actors/inspect.hpp
           weft/actor_task.hpp)
installed_actors=$(cd "$prefix/include" && find weft/actors -type f | sort | xargs)
if [ "$installed_actors" != "weft/actors/fwd.hpp weft/actors/inspect.hpp" ] ||
   [ -e "$prefix/include/weft/schemas" ]; then
  echo "internal headers installed:"; find "$prefix/include" -type f; exit 1
fi
others=$(cd "$prefix/include" && find . -type f | sed 's|^\./||' |
         grep -vxF "$(printf '%s\n' "${actor_api[@]}")")
if (cd "$prefix/include" &&
    grep -nE '#include *[<"](caf|capnp|kj|rocksdb|openssl|graphviz|gvc|cgraph)[/.]' $others); then
  echo "an installed header includes a private dependency"; exit 1
fi
if (cd "$prefix/include" &&
    grep -nE '#include *[<"](capnp|kj|rocksdb|openssl|graphviz|gvc|cgraph)[/.]' "${actor_api[@]}"); then
  echo "the actor interface includes a private dependency other than CAF"; exit 1
fi
# weft.hpp, which every program includes, pulls in no CAF header.
if grep -nE 'workflow_actor|actor_task|weft/actors/' "$prefix/include/weft/weft.hpp"; then
  echo "weft.hpp includes the actor interface"; exit 1
fi
consume install "$prefix"
consume build-tree "$build"
