#!/usr/bin/env bash
# The remote-runner figures of docs/performance.md ("Remote runners with
# default options"): each scenario three times, embedded and with two
# runner processes over loopback in the same run, fsync on, runners with
# their default options; prints the JSON line of the median run.
set -euo pipefail
bench=${1:-build/apps/weft-bench}
run3() {
  local key=$1; shift
  for i in 1 2 3; do "$bench" "$@" | tail -n 1; done \
    | awk -v key="\"$key\":" '{ i = index($0, key); v = substr($0, i + length(key)) + 0; print v "\t" $0 }' \
    | sort -g | sed -n 2p | cut -f2-
}
run3 tasks_per_s --scenario fanout --tasks 100000 --journal fsync
run3 tasks_per_s --scenario fanout --tasks 100000 --journal fsync --runner-processes 2
run3 tasks_per_s --scenario tree --tasks 50000 --journal fsync
run3 tasks_per_s --scenario tree --tasks 50000 --journal fsync --runner-processes 2
run3 tasks_per_s --scenario fanout --tasks 100000 --journal fsync --runner-processes 2 --watchers 10
run3 tasks_per_s --scenario tree --tasks 50000 --journal fsync --runner-processes 2 --watchers 10
run3 p50_us --scenario chain --tasks 2000 --journal fsync --runner-processes 2
run3 tasks_per_s --scenario fanout --tasks 100000 --journal fsync --runner-processes 2 --rtt-ms 20
