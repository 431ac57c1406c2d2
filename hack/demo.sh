#!/usr/bin/env bash
# make demo: the main job end to end on a local default. Starts a throwaway
# Prefect server on 127.0.0.1, then validate → diff → sync → diff on
# examples/pools.yaml, and cleans up. The first run installs Prefect into
# .cache/ (a minute or two); later runs reuse it.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=bin/prefect-apply
file=examples/pools.yaml

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "Installing the pinned Prefect server (first run only)"
bash hack/prefect/install.sh

step "Starting a throwaway Prefect server on 127.0.0.1"
eval "$(bash hack/prefect/start.sh)"
trap 'bash hack/prefect/stop.sh "$PREFECT_SERVER_PID" "$PREFECT_SERVER_HOME"' EXIT
export PREFECT_API_URL
echo "PREFECT_API_URL=$PREFECT_API_URL"
# The jobs read their auth string from a Secret; the demo uses a made-up one.
export PREFECT_API_AUTH_STRING="${PREFECT_API_AUTH_STRING:-demo:not-a-real-password}"
flags=(-f "$file" --skip-kubernetes)

step "prefect-apply validate -f $file"
$bin validate -f "$file"

step "prefect-apply diff ${flags[*]}   (exit 2: changes pending)"
set +e; $bin diff "${flags[@]}"; code=$?; set -e
echo "exit status: $code"
[[ $code == 2 ]] || { echo "demo: expected diff to exit 2 on an empty server" >&2; exit 1; }

step "prefect-apply sync ${flags[*]} --yes"
$bin sync "${flags[@]}" --yes

step "prefect-apply diff ${flags[*]}   (exit 0: in sync)"
$bin diff "${flags[@]}"
echo "exit status: 0"

step "Done: the pools and queues of $file exist on the server and match the file."
