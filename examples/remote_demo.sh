#!/usr/bin/env bash
# A server and two runner processes in two clusters on this machine, then
# the same with TLS: what README.md's "Runners across machines" shows.
#
#   examples/remote_demo.sh [BUILD_DIR]
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
weft=$build/apps/weft
runner=$build/examples/weft-example-remote_runner
work=$(mktemp -d)
pids=()
cleanup() {
  # Runners first (newest first), then the servers.
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill "${pids[$i]}" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# Starts `weft server` with the given options; sets $address.
start_server() {
  "$weft" server --listen 127.0.0.1:0 --data "$work/data-$1" "${@:2}" \
    > "$work/server-$1.out" &
  pids+=($!)
  for _ in $(seq 100); do
    grep -q "listening on" "$work/server-$1.out" 2>/dev/null && break
    sleep 0.1
  done
  address=$(sed -nE 's/^weft server listening on ([^ ]+) .*/\1/p' \
    "$work/server-$1.out")
  echo "server $1 at $address"
}

run_movie() {
  "$weft" clusters create gpu --server "$address" "$@"
  "$runner" "$address" --cluster default --name cpu-runner "$@" &
  pids+=($!)
  "$runner" "$address" --cluster gpu --name gpu-runner "$@" &
  pids+=($!)
  id=$("$weft" submit --task movies/RenderMovie@v1.0 --input '{"frames": 24}' \
         --server "$address" --json "$@" | sed -E 's/.*"id":"([^"]+)".*/\1/')
  for _ in $(seq 300); do
    state=$("$weft" job "$id" --server "$address" --json "$@" \
              | sed -E 's/.*"state":"([A-Z]+)".*/\1/')
    [ "$state" = COMPLETED ] && break
    [ "$state" = FAILED ] && break
    sleep 0.1
  done
  "$weft" job "$id" --server "$address" "$@"
  "$weft" clusters list --server "$address" "$@"
  [ "$state" = COMPLETED ]
}

echo "== plain TCP on loopback"
start_server plain
run_movie

echo "== TLS with mutual authentication"
"$weft" certs init --dir "$work/certs"
for name in server cpu-runner gpu-runner cli; do
  "$weft" certs issue "$name" --dir "$work/certs" > /dev/null
done
tls() { echo --cert "$work/certs/$1.pem" --key "$work/certs/$1.key" \
             --ca "$work/certs/ca.pem"; }
# shellcheck disable=SC2046
start_server tls $(tls server)
# shellcheck disable=SC2046
run_movie $(tls cli)
echo "remote demo: both movies COMPLETED"
