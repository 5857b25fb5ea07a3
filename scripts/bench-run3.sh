# Sourced by the bench scripts. `$bench` is the weft-bench program.
#
# run3 KEY ARGS...: runs `$bench ARGS...` three times and prints the JSON
# line of the median run by the number under KEY.
run3() {
  local key=$1; shift
  for i in 1 2 3; do "$bench" "$@" | tail -n 1; done \
    | awk -v key="\"$key\":" '{ i = index($0, key); v = substr($0, i + length(key)) + 0; print v "\t" $0 }' \
    | sort -g | sed -n 2p | cut -f2-
}

# watch_pairs N ARGS...: runs `$bench ARGS...` and `$bench ARGS... --watchers
# 10` alternately N times and prints the median of the N ratios of their
# tasks_per_s (watched / unwatched), as a JSON line.
watch_pairs() {
  local n=$1; shift
  for i in $(seq "$n"); do
    "$bench" "$@" | tail -n 1
    "$bench" "$@" --watchers 10 | tail -n 1
  done \
    | awk -v n="$n" '{ i = index($0, "\"tasks_per_s\":"); v = substr($0, i + 14) + 0;
                       if (NR % 2) u = v; else print v / u }' \
    | sort -g | awk -v args="$*" '{ r[NR] = $1 } END {
        printf "{\"scenario\":\"watch-pairs\",\"args\":\"%s\",\"pairs\":%d,\"median_ratio\":%.3f}\n", args, NR, r[int((NR + 1) / 2)] }'
}
