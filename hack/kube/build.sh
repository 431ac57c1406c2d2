#!/usr/bin/env bash
# Builds kube-apiserver and etcd for the end-to-end tests from the Go module
# proxy, using the pinned modules under hack/tools/kube-apiserver and
# hack/tools/etcd:
#
#   .cache/bin/kube-<version>/kube-apiserver
#   .cache/bin/etcd-<version>/etcd
#
# A binary that already exists is not rebuilt. A cold kube-apiserver build
# takes several minutes and about 2.5 GB of memory; builds run under `nice`
# with at most BUILD_JOBS (default 2) parallel compiles.
#
# Usage: hack/kube/build.sh [--print-paths]
#   --print-paths  print KUBE_APISERVER_BIN=... and ETCD_BIN=... and exit
#                  without building.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
KUBE_MOD="$REPO/hack/tools/kube-apiserver"
ETCD_MOD="$REPO/hack/tools/etcd"

log() { printf 'build.sh: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# required_version MODDIR MODULE prints the version MODULE is required at in
# MODDIR/go.mod (either a single-line or a block require).
required_version() {
	local v
	v=$(awk -v m="$2" '
		$1 == "require" && $2 == m { print $3; exit }
		$1 == m && $2 ~ /^v[0-9]/ { print $2; exit }
	' "$1/go.mod")
	[[ -n $v ]] || die "cannot find $2 in $1/go.mod"
	printf '%s\n' "$v"
}

KUBE_VERSION=$(required_version "$KUBE_MOD" k8s.io/kubernetes)
ETCD_VERSION=$(required_version "$ETCD_MOD" go.etcd.io/etcd/server/v3)
KUBE_BIN="$REPO/.cache/bin/kube-$KUBE_VERSION/kube-apiserver"
ETCD_BIN="$REPO/.cache/bin/etcd-$ETCD_VERSION/etcd"

if [[ ${1-} == --print-paths ]]; then
	printf 'KUBE_APISERVER_BIN=%q\nETCD_BIN=%q\n' "$KUBE_BIN" "$ETCD_BIN"
	exit 0
fi
[[ $# -eq 0 ]] || die "unknown argument: $1"

command -v go >/dev/null || die "go is not on PATH"

JOBS=${BUILD_JOBS:-2}
# The tool modules are standalone: never pick up a go.work from above, and
# never let the build edit go.mod/go.sum.
export GOWORK=off GOFLAGS=-mod=readonly CGO_ENABLED=0
export GOMAXPROCS=${GOMAXPROCS:-$JOBS}

# Concurrent callers (parallel test packages) wait for one another instead
# of building the same binary twice.
mkdir -p "$REPO/.cache/bin"
exec 9>"$REPO/.cache/bin/.build.lock"
if ! flock -n 9; then
	log "another build is running; waiting for it"
	flock 9
fi

# go_build MODDIR OUT PKG LDFLAGS builds PKG within MODDIR into OUT,
# atomically (a failed or interrupted build leaves no binary behind).
go_build() {
	local moddir=$1 out=$2 pkg=$3 ldflags=$4 start tmp
	start=$(date +%s)
	mkdir -p "$(dirname "$out")"
	tmp="$out.tmp.$$"
	trap 'rm -f "$tmp"' EXIT
	if ! (cd "$moddir" && nice -n 19 go build -p "$JOBS" -trimpath \
		-ldflags "$ldflags" -o "$tmp" "$pkg"); then
		rm -f "$tmp"
		die "building $pkg failed"
	fi
	mv -f "$tmp" "$out"
	trap - EXIT
	log "built $out in $(($(date +%s) - start))s"
}

BUILD_DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)

if [[ -x $KUBE_BIN ]]; then
	log "kube-apiserver $KUBE_VERSION: up to date ($KUBE_BIN)"
else
	log "kube-apiserver $KUBE_VERSION: building (cold: several minutes)"
	# Same variables as kubernetes' hack/lib/version.sh sets, so that
	# --version and /version report the release instead of v0.0.0.
	major=${KUBE_VERSION#v}
	major=${major%%.*}
	minor=${KUBE_VERSION#v*.}
	minor=${minor%%.*}
	ld="-s -w"
	for kv in "gitVersion=$KUBE_VERSION" "gitMajor=$major" "gitMinor=$minor" \
		"gitTreeState=clean" "buildDate=$BUILD_DATE"; do
		ld+=" -X k8s.io/component-base/version.$kv -X k8s.io/client-go/pkg/version.$kv"
	done
	go_build "$KUBE_MOD" "$KUBE_BIN" k8s.io/kubernetes/cmd/kube-apiserver "$ld"
fi

if [[ -x $ETCD_BIN ]]; then
	log "etcd $ETCD_VERSION: up to date ($ETCD_BIN)"
else
	log "etcd $ETCD_VERSION: building"
	# version.Version is a constant in the module; only the commit is a
	# variable, and the module proxy does not carry it.
	go_build "$ETCD_MOD" "$ETCD_BIN" go.etcd.io/etcd/server/v3 \
		"-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=$ETCD_VERSION"
fi

# Check that the binaries run and report the pinned versions.
got=$("$KUBE_BIN" --version 2>&1) || die "$KUBE_BIN --version failed: $got"
[[ $got == "Kubernetes $KUBE_VERSION" ]] ||
	die "$KUBE_BIN reports '$got', expected 'Kubernetes $KUBE_VERSION'"
got=$("$ETCD_BIN" --version 2>&1) || die "$ETCD_BIN --version failed: $got"
[[ $got == *"etcd Version: ${ETCD_VERSION#v}"* ]] ||
	die "$ETCD_BIN reports '$got', expected etcd Version: ${ETCD_VERSION#v}"
log "ok: $KUBE_BIN ($KUBE_VERSION), $ETCD_BIN ($ETCD_VERSION)"
