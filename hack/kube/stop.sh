#!/usr/bin/env bash
# Stops the kube-apiserver and etcd started by hack/kube/start.sh and removes
# their temporary directory.
#
# Usage: hack/kube/stop.sh [KUBE_TMP]
#   KUBE_TMP defaults to $KUBE_TMP. The process ids are read from the pid
#   files in that directory, or else from $KUBE_APISERVER_PID and $ETCD_PID.
#   A pid is only signalled if its command line refers to KUBE_TMP, so a
#   recycled pid is never hit. Stopping twice is harmless.
set -uo pipefail

dir=${1:-${KUBE_TMP-}}
if [[ -z $dir ]]; then
	echo "usage: $0 KUBE_TMP (or set KUBE_TMP)" >&2
	exit 2
fi
dir=${dir%/}
case $dir in
*/prefect-apply-kube.*) ;;
*)
	echo "stop.sh: refusing to remove $dir: not a directory made by start.sh" >&2
	exit 2
	;;
esac

pid_of() {
	local f="$dir/$1.pid"
	if [[ -r $f ]]; then cat "$f"; else printf '%s\n' "${2-}"; fi
}

# ours PID: running (not a zombie) and started by start.sh for this dir.
ours() {
	local pid=$1 state
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 1
	[[ -n $state && $state != Z ]] || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$dir"
}

# stop NAME PID: SIGTERM, up to 15 s grace, then SIGKILL.
stop() {
	local name=$1 pid=$2 i
	ours "$pid" || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 150; i++)); do
		ours "$pid" || return 0
		sleep 0.1
	done
	echo "stop.sh: $name (pid $pid) did not exit after SIGTERM; killing it" >&2
	kill -KILL "$pid" 2>/dev/null
	for ((i = 0; i < 50; i++)); do
		ours "$pid" || return 0
		sleep 0.1
	done
	echo "stop.sh: $name (pid $pid) is still running" >&2
	return 1
}

rc=0
# The watchdog's command line does not name the directory; it ends by
# itself once the directory is gone.
stop kube-apiserver "$(pid_of kube-apiserver "${KUBE_APISERVER_PID-}")" || rc=1
stop etcd "$(pid_of etcd "${ETCD_PID-}")" || rc=1
if [[ -d $dir ]]; then
	rm -rf -- "$dir" || rc=1
fi
exit "$rc"
