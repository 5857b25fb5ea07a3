#!/usr/bin/env bash
# Runs each weft-bench scenario three times and prints the JSON line of the
# median run (by its headline figure), as docs/performance.md quotes them.
set -euo pipefail
bench=${1:-build/apps/weft-bench}
source "$(dirname "$0")/bench-run3.sh"
run3 tasks_per_s --scenario fanout --tasks 100000 --slots 2
run3 tasks_per_s --scenario fanout --tasks 100000 --slots 2 --prefetch 0
run3 tasks_per_s --scenario fanout --tasks 100000 --slots 2 --journal nofsync
run3 tasks_per_s --scenario fanout --tasks 100000 --slots 2 --journal fsync
run3 tasks_per_s --scenario fanout --tasks 1000000 --slots 2 --journal fsync
run3 tasks_per_s --scenario fanout --tasks 100000 --slots 2 --runner-processes 2
run3 tasks_per_s --scenario fanout --tasks 100000 --slots 2 --runner-processes 2 --prefetch 0
run3 tasks_per_s --scenario tree --tasks 100000 --slots 2
run3 actor_to_plain --scenario actor-fanout --tasks 100000 --slots 2
run3 actor_to_plain --scenario actor-fanout --tasks 100000 --slots 2 --runner-processes 2
run3 seconds --scenario actor-wait --tasks 10000 --wait-ms 100 --slots 2
run3 p50_us --scenario chain --tasks 2000 --slots 2
run3 p50_us --scenario chain --tasks 2000 --slots 2 --journal fsync
run3 jobs_per_s --scenario many-jobs --jobs 1000 --slots 2 --journal fsync
run3 jobs_per_s --scenario many-jobs --jobs 1000 --slots 2 --journal fsync --submitters 1
run3 seconds --scenario recovery --events 1000000
run3 render_seconds --scenario render --tasks 100000 --slots 2
run3 pairs_per_s_in_process --scenario caf-baseline
run3 mean_error_points --scenario estimate
run3 estimate_ms --scenario estimate-cost --tasks 1000000
