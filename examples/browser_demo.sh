#!/usr/bin/env bash
# The movie workflow of README.md's "Runners across machines", watched in a
# browser: a server with the HTTP listener, a runner in each of two
# clusters, and a movie long enough to watch. Prints the job's page and
# keeps running until Ctrl-C.
#
#   examples/browser_demo.sh [BUILD_DIR]      (WEFT_HTTP_PORT, default 8080)
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
weft=$build/apps/weft
runner=$build/examples/weft-example-remote_runner
port=${WEFT_HTTP_PORT:-8080}
work=$(mktemp -d)
pids=()
cleanup() {
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill "${pids[$i]}" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

"$weft" server --listen 127.0.0.1:0 --data "$work/data" \
  --http "127.0.0.1:$port" --progress-interval 500 > "$work/server.out" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  grep -q "HTTP API at" "$work/server.out" 2>/dev/null && break
  if ! kill -0 "${pids[0]}" 2>/dev/null; then
    cat "$work/server.out" >&2
    exit 1
  fi
  sleep 0.1
done
address=$(sed -nE 's/^weft server listening on ([^ ]+) .*/\1/p' "$work/server.out")
"$weft" clusters create gpu --server "$address" > /dev/null
"$runner" "$address" --cluster default --name cpu-runner > "$work/cpu.out" 2>&1 &
pids+=($!)
"$runner" "$address" --cluster gpu --name gpu-runner --slots 2 > "$work/gpu.out" 2>&1 &
pids+=($!)
id=$("$weft" submit --task movies/RenderMovie@v1.0 --input '{"frames": 1500}' \
       --server "$address" --json | sed -E 's/.*"id":"([^"]+)".*/\1/')
echo "open http://127.0.0.1:$port/jobs/$id   (all jobs: http://127.0.0.1:$port/)"
echo "the movie renders 1,500 frames on 2 slots (about 15 s); Ctrl-C stops the demo"
wait "${pids[0]}"
