#!/usr/bin/env bash
# The remote-runner figures of docs/performance.md ("Remote runners with
# default options"): each scenario three times, embedded and with two
# runner processes over loopback in the same run, fsync on, runners with
# their default options; prints the JSON line of the median run, and for
# watchers the median ratio of five alternating pairs.
set -euo pipefail
bench=${1:-build/apps/weft-bench}
source "$(dirname "$0")/bench-run3.sh"
run3 tasks_per_s --scenario fanout --tasks 100000 --journal fsync
run3 tasks_per_s --scenario fanout --tasks 100000 --journal fsync --runner-processes 2
run3 tasks_per_s --scenario tree --tasks 50000 --journal fsync
run3 tasks_per_s --scenario tree --tasks 50000 --journal fsync --runner-processes 2
run3 tasks_per_s --scenario fanout --tasks 100000 --journal fsync --runner-processes 2 --watchers 10
run3 tasks_per_s --scenario tree --tasks 50000 --journal fsync --runner-processes 2 --watchers 10
run3 p50_us --scenario chain --tasks 2000 --journal fsync --runner-processes 2
run3 tasks_per_s --scenario fanout --tasks 100000 --journal fsync --runner-processes 2 --rtt-ms 20
watch_pairs 5 --scenario fanout --tasks 100000 --journal fsync --runner-processes 2
watch_pairs 5 --scenario tree --tasks 50000 --journal fsync --runner-processes 2
