#!/usr/bin/env bash
# Starts a throw-away etcd and kube-apiserver for the end-to-end tests, bound
# to 127.0.0.1 on free ports, with all state in a fresh temporary directory.
# The binaries come from hack/kube/build.sh (run it first).
#
# On success it prints shell-evaluable lines on stdout and exits 0:
#
#   KUBECONFIG=<tmp>/kubeconfig          admin user (group system:masters)
#   KUBE_APISERVER_URL=https://127.0.0.1:<port>
#   KUBE_APISERVER_PID=<pid>
#   ETCD_PID=<pid>
#   KUBE_TMP=<tmp>
#
# so `eval "$(hack/kube/start.sh)"` sets them (as shell variables: export
# KUBECONFIG yourself) and `hack/kube/stop.sh "$KUBE_TMP"` stops both servers
# and removes the directory. The servers log to <tmp>/*.log and never
# hold the caller's stdout or stderr. Progress and, on failure, the server
# logs go to stderr.
#
# Environment:
#   KUBE_APISERVER_BIN, ETCD_BIN  binaries to run (default: build.sh's output)
#   KUBE_START_TIMEOUT            seconds to wait for /readyz (default 60)
#   KUBE_WATCH_PID                if set, stop the servers once that process
#                                 has exited (tests pass their own pid so that
#                                 a killed test run leaves nothing behind)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TIMEOUT=${KUBE_START_TIMEOUT:-60}

log() { printf 'start.sh: %s\n' "$*" >&2; }

KUBE_APISERVER_BIN_OVERRIDE=${KUBE_APISERVER_BIN-}
ETCD_BIN_OVERRIDE=${ETCD_BIN-}
eval "$("$HERE/build.sh" --print-paths)"
KUBE_APISERVER_BIN=${KUBE_APISERVER_BIN_OVERRIDE:-$KUBE_APISERVER_BIN}
ETCD_BIN=${ETCD_BIN_OVERRIDE:-$ETCD_BIN}
for b in "$KUBE_APISERVER_BIN" "$ETCD_BIN"; do
	if [[ ! -x $b ]]; then
		log "ERROR: $b is missing: run hack/kube/build.sh first"
		exit 1
	fi
done
for t in openssl curl base64; do
	command -v "$t" >/dev/null || { log "ERROR: $t is not installed"; exit 1; }
done

T0=$(date +%s%N)
elapsed() { printf '%d.%03ds' $((($(date +%s%N) - T0) / 1000000000)) \
	$((($(date +%s%N) - T0) / 1000000 % 1000)); }

KUBE_TMP=$(mktemp -d "${TMPDIR:-/tmp}/prefect-apply-kube.XXXXXX")
ETCD_PID=
KUBE_APISERVER_PID=

# On any failure: show the logs, stop what was started, remove the directory.
fail() {
	local f
	trap - EXIT INT TERM
	log "ERROR: $*"
	for f in "$KUBE_TMP"/etcd.log "$KUBE_TMP"/kube-apiserver.log; do
		[[ -s $f ]] || continue
		printf '\n----- last 60 lines of %s -----\n' "$(basename "$f")" >&2
		tail -n 60 "$f" >&2
	done
	KUBE_APISERVER_PID=$KUBE_APISERVER_PID ETCD_PID=$ETCD_PID \
		"$HERE/stop.sh" "$KUBE_TMP" >&2 || true
	exit 1
}
trap 'fail "interrupted"' INT TERM
# shellcheck disable=SC2154 # rc is assigned inside the trap
trap 'rc=$?; [[ $rc -eq 0 ]] || fail "unexpected error (exit $rc)"' EXIT

# ---------------------------------------------------------------- certificates
PKI="$KUBE_TMP/pki"
mkdir -p "$PKI" "$KUBE_TMP/cert-dir"
cat >"$PKI/openssl.cnf" <<'EOF'
[req]
distinguished_name = dn
prompt = no
[dn]
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign,digitalSignature
subjectKeyIdentifier = hash
[serving]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc
authorityKeyIdentifier = keyid
[client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid
EOF
ossl() { openssl "$@" 2>>"$PKI/openssl.log" || fail "openssl $1 failed: $(cat "$PKI/openssl.log")"; }
newkey() { ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }
# sign NAME SUBJECT EXTENSIONS: key and certificate signed by the test CA.
sign() {
	newkey "$PKI/$1.key"
	ossl req -new -config "$PKI/openssl.cnf" -key "$PKI/$1.key" -subj "$2" \
		-out "$PKI/$1.csr"
	ossl x509 -req -in "$PKI/$1.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" \
		-set_serial "0x$(openssl rand -hex 16)" -days 7 \
		-extfile "$PKI/openssl.cnf" -extensions "$3" -out "$PKI/$1.crt"
}
# One CA signs the serving certificate and the admin client certificate
# (--client-ca-file). The admin is in group system:masters, which the
# bootstrap RBAC policy binds to cluster-admin.
newkey "$PKI/ca.key"
ossl req -x509 -new -config "$PKI/openssl.cnf" -key "$PKI/ca.key" \
	-subj "/CN=prefect-apply-e2e-ca" -days 7 -extensions ca -out "$PKI/ca.crt"
sign serving "/CN=kube-apiserver" serving
sign admin "/O=system:masters/CN=prefect-apply-e2e-admin" client
# Service-account token signing key pair.
newkey "$PKI/sa.key"
ossl pkey -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub"

# ------------------------------------------------------------------- ports
declare -A TAKEN=()
# free_port VAR sets VAR to a port in 20000-32767 (below the usual ephemeral
# range) that nothing listens on and this script has not handed out yet. A
# port can still be taken before the server binds it; start_* retry then.
free_port() {
	local -n out=$1
	local p i
	for ((i = 0; i < 200; i++)); do
		p=$((20000 + RANDOM % 12768))
		[[ -z ${TAKEN[$p]-} ]] || continue
		if command -v ss >/dev/null; then
			[[ -z $(ss -Htln "sport = :$p" 2>/dev/null) ]] || continue
		elif (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			continue
		fi
		TAKEN[$p]=1
		# shellcheck disable=SC2034 # nameref to the caller's variable
		out=$p
		return 0
	done
	fail "no free port found"
}

# alive PID: the process exists and is not a zombie.
alive() {
	local state
	state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
	[[ -n $state && $state != Z ]]
}

port_clash() { grep -q 'address already in use' "$1" 2>/dev/null; }

# ------------------------------------------------------------------- etcd
ETCD_PORT=
start_etcd() {
	local attempt peer i
	for attempt in 1 2 3; do
		free_port ETCD_PORT
		free_port peer
		rm -rf "$KUBE_TMP/etcd"
		"$ETCD_BIN" \
			--name=default \
			--data-dir="$KUBE_TMP/etcd" \
			--listen-client-urls="http://127.0.0.1:$ETCD_PORT" \
			--advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
			--listen-peer-urls="http://127.0.0.1:$peer" \
			--initial-advertise-peer-urls="http://127.0.0.1:$peer" \
			--initial-cluster="default=http://127.0.0.1:$peer" \
			--unsafe-no-fsync=true \
			</dev/null >"$KUBE_TMP/etcd.log" 2>&1 &
		ETCD_PID=$!
		echo "$ETCD_PID" >"$KUBE_TMP/etcd.pid"
		for ((i = 0; i < TIMEOUT * 10; i++)); do
			if ! alive "$ETCD_PID"; then
				if port_clash "$KUBE_TMP/etcd.log" && ((attempt < 3)); then
					log "etcd: port taken, retrying"
					continue 2
				fi
				fail "etcd exited"
			fi
			if [[ $(curl -fsS --max-time 2 "http://127.0.0.1:$ETCD_PORT/health" 2>/dev/null) == *'"health":"true"'* ]]; then
				log "etcd ready on 127.0.0.1:$ETCD_PORT after $(elapsed) (pid $ETCD_PID)"
				return 0
			fi
			sleep 0.1
		done
		fail "etcd not healthy after ${TIMEOUT}s"
	done
}

# ---------------------------------------------------------- kube-apiserver
KUBE_PORT=
start_apiserver() {
	local attempt i code
	for attempt in 1 2 3; do
		free_port KUBE_PORT
		# The flags of controller-runtime's envtest, with explicit serving and
		# client certificates. --endpoint-reconciler-type=none: the default
		# reconciler refuses a loopback --advertise-address and the server
		# exits ("may not be in the loopback range").
		"$KUBE_APISERVER_BIN" \
			--bind-address=127.0.0.1 \
			--advertise-address=127.0.0.1 \
			--endpoint-reconciler-type=none \
			--secure-port="$KUBE_PORT" \
			--etcd-servers="http://127.0.0.1:$ETCD_PORT" \
			--cert-dir="$KUBE_TMP/cert-dir" \
			--tls-cert-file="$PKI/serving.crt" \
			--tls-private-key-file="$PKI/serving.key" \
			--client-ca-file="$PKI/ca.crt" \
			--authorization-mode=RBAC \
			--service-cluster-ip-range=10.0.0.0/24 \
			--allow-privileged=true \
			--disable-admission-plugins=ServiceAccount \
			--service-account-issuer="https://127.0.0.1:$KUBE_PORT/" \
			--service-account-key-file="$PKI/sa.pub" \
			--service-account-signing-key-file="$PKI/sa.key" \
			</dev/null >"$KUBE_TMP/kube-apiserver.log" 2>&1 &
		KUBE_APISERVER_PID=$!
		echo "$KUBE_APISERVER_PID" >"$KUBE_TMP/kube-apiserver.pid"
		# /readyz includes etcd and the RBAC bootstrap policy; anonymous
		# requests are refused until that policy exists, so ask as admin.
		for ((i = 0; ; i++)); do
			if ! alive "$KUBE_APISERVER_PID"; then
				if port_clash "$KUBE_TMP/kube-apiserver.log" && ((attempt < 3)); then
					log "kube-apiserver: port taken, retrying"
					continue 2
				fi
				fail "kube-apiserver exited"
			fi
			code=$(curl -sS --max-time 2 -o "$KUBE_TMP/readyz.out" -w '%{http_code}' \
				--cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" \
				"https://127.0.0.1:$KUBE_PORT/readyz" 2>/dev/null) || true
			if [[ $code == 200 && $(cat "$KUBE_TMP/readyz.out") == ok ]]; then
				log "kube-apiserver ready on 127.0.0.1:$KUBE_PORT after $(elapsed) (pid $KUBE_APISERVER_PID)"
				return 0
			fi
			if (($(date +%s%N) - T0 > TIMEOUT * 1000000000)); then
				curl -sS --max-time 5 --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" \
					--key "$PKI/admin.key" "https://127.0.0.1:$KUBE_PORT/readyz?verbose" >&2 || true
				fail "kube-apiserver not ready after ${TIMEOUT}s (last /readyz: HTTP $code)"
			fi
			sleep 0.2
		done
	done
}

start_etcd
start_apiserver

# ------------------------------------------------------------- kubeconfig
b64() { base64 -w0 <"$1"; }
KUBECONFIG_FILE="$KUBE_TMP/kubeconfig"
cat >"$KUBECONFIG_FILE" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster:
    server: https://127.0.0.1:$KUBE_PORT
    certificate-authority-data: $(b64 "$PKI/ca.crt")
users:
- name: e2e-admin
  user:
    client-certificate-data: $(b64 "$PKI/admin.crt")
    client-key-data: $(b64 "$PKI/admin.key")
contexts:
- name: e2e
  context:
    cluster: e2e
    user: e2e-admin
    namespace: default
current-context: e2e
EOF
chmod 600 "$KUBECONFIG_FILE"

{
	printf 'KUBECONFIG=%q\n' "$KUBECONFIG_FILE"
	printf 'KUBE_APISERVER_URL=%q\n' "https://127.0.0.1:$KUBE_PORT"
	printf 'KUBE_APISERVER_PID=%q\n' "$KUBE_APISERVER_PID"
	printf 'ETCD_PID=%q\n' "$ETCD_PID"
	printf 'KUBE_TMP=%q\n' "$KUBE_TMP"
} >"$KUBE_TMP/env"

# Optional watchdog: stop everything once the given process is gone.
if [[ -n ${KUBE_WATCH_PID-} ]]; then
	(
		trap '' INT HUP
		while kill -0 "$KUBE_WATCH_PID" 2>/dev/null && [[ -d $KUBE_TMP ]]; do
			sleep 1
		done
		[[ -d $KUBE_TMP ]] && exec "$HERE/stop.sh" "$KUBE_TMP"
	) </dev/null >/dev/null 2>&1 &
fi

trap - EXIT INT TERM
cat "$KUBE_TMP/env"
