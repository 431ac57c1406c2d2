#!/usr/bin/env bash
# make demo: the main job end to end on a local default. Starts a throwaway
# Prefect server and a throwaway kube-apiserver (with etcd) on 127.0.0.1,
# then validate → diff → sync → diff on examples/pools.yaml, and cleans up.
# The first run installs Prefect into .cache/ (about 2 minutes) and builds
# kube-apiserver and etcd from source (about 7 minutes on 2 cores); later
# runs reuse both and take well under a minute.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=bin/prefect-apply
file=examples/pools.yaml

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "Installing the pinned Prefect server and building kube-apiserver + etcd (first run only)"
bash hack/prefect/install.sh
bash hack/kube/build.sh

step "Starting a throwaway Prefect server and kube-apiserver on 127.0.0.1"
cleanup() {
  [[ -n ${PREFECT_SERVER_PID-} ]] && bash hack/prefect/stop.sh "$PREFECT_SERVER_PID" "$PREFECT_SERVER_HOME"
  [[ -n ${KUBE_TMP-} ]] && bash hack/kube/stop.sh "$KUBE_TMP" >/dev/null
}
trap cleanup EXIT
eval "$(bash hack/prefect/start.sh)"
eval "$(bash hack/kube/start.sh)"
export PREFECT_API_URL KUBECONFIG
echo "PREFECT_API_URL=$PREFECT_API_URL"
echo "KUBECONFIG=$KUBECONFIG ($KUBE_APISERVER_URL)"
# The flow-run jobs read their auth string from a Secret, whose value
# comes from this variable at sync time; the demo makes one up.
export PREFECT_API_AUTH_STRING="${PREFECT_API_AUTH_STRING:-demo:not-a-real-password}"

step "prefect-apply validate -f $file"
$bin validate -f "$file"

step "prefect-apply diff -f $file   (exit 2: changes pending)"
set +e; $bin diff -f "$file"; code=$?; set -e
echo "exit status: $code"
[[ $code == 2 ]] || { echo "demo: expected diff to exit 2 on empty servers" >&2; exit 1; }

step "prefect-apply sync -f $file --yes"
$bin sync -f "$file" --yes

step "prefect-apply diff -f $file   (exit 0: in sync)"
$bin diff -f "$file"
echo "exit status: 0"

step "Done: the namespace, RBAC, Secret, PVC, pools and queues of $file exist and match the file."
