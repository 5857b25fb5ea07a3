#!/usr/bin/env bash
# Runs one weft-bench scenario alternately from two build trees and prints
# each side's rate per run and the median of each, then the ratio. For
# before/after figures on a noisy machine: both sides see the same load.
#
#   scripts/bench-compare.sh BEFORE_BUILD AFTER_BUILD RUNS -- BENCH_ARGS...
#   e.g. scripts/bench-compare.sh /tmp/before/build build 3 -- \
#          --scenario fanout --tasks 100000 --runner-processes 2
set -euo pipefail
before=$1 after=$2 runs=$3
shift 3
[ "${1:-}" = "--" ] && shift
rate() {
  "$1/apps/weft-bench" "${@:2}" 2>/dev/null | tail -n 1 \
    | sed -n 's/.*"tasks_per_s":\([0-9.]*\).*/\1/p'
}
a=() b=()
for ((i = 0; i < runs; i++)); do
  a+=("$(rate "$before" "$@")")
  b+=("$(rate "$after" "$@")")
  echo "run $((i + 1)): before ${a[-1]} after ${b[-1]}"
done
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
ma=$(median "${a[@]}") mb=$(median "${b[@]}")
echo "{\"before_median\":$ma,\"after_median\":$mb,\"ratio\":$(awk -v x="$mb" -v y="$ma" 'BEGIN {printf "%.3f", x / y}')}"
