#!/usr/bin/env bash
# The requests diff spends on the deployments and runs of the pools a plan
# touches, at N pools (BENCH_DEPS_N, default 1000) on a fresh Prefect
# server: in sync (none), then with D deployments (BENCH_DEPS_D, default
# 450) on k pools (BENCH_DEPS_K, default 3) whose descriptions change.
# Prints diff --stats for both; BENCHMARKS.md "Reading what runs on the
# pools" records a run.
set -euo pipefail
cd "$(dirname "$0")/.."
n="${BENCH_DEPS_N:-1000}" d="${BENCH_DEPS_D:-450}" k="${BENCH_DEPS_K:-3}"
work="$(mktemp -d)"
eval "$(bash hack/prefect/start.sh)"
trap 'bash hack/prefect/stop.sh "$PREFECT_SERVER_PID" "$PREFECT_SERVER_HOME"; rm -rf "$work"' EXIT
export PREFECT_API_URL
go build -o "$work/prefect-apply" ./cmd/prefect-apply
go run ./bench/gen -n "$n" -set deps -o "$work/pools.yaml"
# On SQLite, a server this busy may answer 503 to a few creates past the
# retries; the second sync converges, as sync promises.
"$work/prefect-apply" sync -f "$work/pools.yaml" --skip-kubernetes --yes -o json >/dev/null 2>"$work/sync.log" ||
  "$work/prefect-apply" sync -f "$work/pools.yaml" --skip-kubernetes --yes -o json >/dev/null 2>>"$work/sync.log"
echo "== diff in sync, N = $n"
"$work/prefect-apply" diff -f "$work/pools.yaml" --skip-kubernetes --stats >/dev/null
pools="$(grep -m "$k" -oE '^  - name: [^ ]+' "$work/pools.yaml" | awk '{print $3}')"
flow="$(curl -fsS -X POST "$PREFECT_API_URL/flows/" -H 'Content-Type: application/json' -d '{"name":"deps-flow"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')"
i=0
while (( i < d )); do
  for p in $pools; do
    (( i < d )) || break
    curl -fsS -o /dev/null -X POST "$PREFECT_API_URL/deployments/" -H 'Content-Type: application/json' \
      -d "{\"name\":\"job-$i\",\"flow_id\":\"$flow\",\"work_pool_name\":\"$p\"}"
    i=$((i + 1))
  done
done
python3 - "$work/pools.yaml" $pools <<'PY'
import sys
path, pools = sys.argv[1], set(sys.argv[2:])
out, cur = [], None
for line in open(path):
    if line.startswith("  - name: "):
        cur = line.split()[2]
    if cur in pools and line.startswith("    description: "):
        line = "    description: touched\n"
    out.append(line)
open(path, "w").writelines(out)
PY
echo "== diff touching k = $k pools with D = $d deployments, N = $n"
"$work/prefect-apply" diff -f "$work/pools.yaml" --skip-kubernetes --stats >/dev/null || [[ $? == 2 ]]
