#!/usr/bin/env bash
# A first sync of N pools (BENCH_FIRST_N, default 1000, 3 queues each) with
# default settings against a fresh Prefect server on SQLite, as `prefect
# server start` gives it: the summary line and the time, BENCH_FIRST_RUNS
# times (default 1). A failed change is a default that does not work on
# the server it meets. BENCH_FIRST_ARGS adds flags (e.g. --concurrency 1).
set -euo pipefail
cd "$(dirname "$0")/.."
n="${BENCH_FIRST_N:-1000}" runs="${BENCH_FIRST_RUNS:-1}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
go build -o "$work/prefect-apply" ./cmd/prefect-apply
go run ./bench/gen -n "$n" -set first -o "$work/pools.yaml"
for run in $(seq "$runs"); do
  eval "$(bash hack/prefect/start.sh)"
  export PREFECT_API_URL
  began=$(date +%s.%N)
  code=0
  "$work/prefect-apply" sync -f "$work/pools.yaml" --skip-kubernetes --yes --stats ${BENCH_FIRST_ARGS:-} >"$work/out" 2>"$work/err" || code=$?
  ended=$(date +%s.%N)
  printf 'run %d: exit %d in %.1f s: %s\n' "$run" "$code" "$(echo "$ended - $began" | bc)" "$(grep -E '^Sync:' "$work/out")"
  bash hack/prefect/stop.sh "$PREFECT_SERVER_PID" "$PREFECT_SERVER_HOME"
done
