#!/usr/bin/env bash
# make bench: prefect-apply against the real servers, side by side with the
# ways users read the same objects today, in one run on one machine.
#
#   1. builds bin/prefect-apply and the helpers (bench/gen, bench/measure,
#      bench/report); installs Prefect and builds kube-apiserver + etcd
#      when they are not cached yet (hack/);
#   2. runs the Go benchmarks of the pure parts (N = 1000), before any
#      server starts;
#   3. generates a pools.yaml per N (bench/gen) and times `validate`;
#   4. starts one kube-apiserver for the whole run and, per N, a fresh
#      Prefect server (SQLite), so that the sizes never see each other's
#      pools; then `sync` from empty, `diff` in sync (with and without
#      Kubernetes), the async-client script (bench/read_async.py, two
#      variants) and, for the sizes in BENCH_CLI_SIZES, the Prefect CLI
#      loop (`prefect work-pool inspect` + `prefect work-queue ls --pool`
#      per pool), interleaved round by round so that a change in the
#      machine's load hits all of them alike;
#   5. prints the tables (bench/report) and writes them, with every raw
#      record, under BENCH_OUT.
#
# Every server it starts is stopped on exit, also on failure or Ctrl-C.
# Wall time and peak memory come from bench/measure (wait4's rusage), so
# /usr/bin/time is not needed.
#
# Environment:
#   BENCH_SIZES          pool counts (default "10 100 1000")
#   BENCH_CLI_SIZES      sizes the CLI loop runs at (default "10 100"; it
#                        costs two Python processes per pool)
#   BENCH_ROUNDS         rounds of diff / async-script runs per size (default 3)
#   BENCH_VALIDATE_RUNS  validate runs per size (default 5)
#   BENCH_CONCURRENCY    sync --concurrency (default 1, see BENCHMARKS.md)
#   BENCH_GO             0 skips the Go benchmarks (default 1)
#   BENCH_GO_BENCHTIME   go test -benchtime (default 1s)
#   BENCH_OUT            output folder (default .cache/bench/<date-time>)
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"

SIZES=${BENCH_SIZES:-10 100 1000}
CLI_SIZES=${BENCH_CLI_SIZES-10 100}
ROUNDS=${BENCH_ROUNDS:-3}
VALIDATE_RUNS=${BENCH_VALIDATE_RUNS:-5}
CONCURRENCY=${BENCH_CONCURRENCY:-1}
GO_BENCH=${BENCH_GO:-1}
GO_BENCHTIME=${BENCH_GO_BENCHTIME:-1s}
OUT=${BENCH_OUT:-$REPO/.cache/bench/$(date +%Y%m%d-%H%M%S)}
GO=${GO:-go}

BIN=$REPO/bin/prefect-apply
VENV=$REPO/.cache/prefect-venv
PY=$VENV/bin/python
PREFECT=$VENV/bin/prefect
RESULTS=$OUT/results.jsonl
T0=$SECONDS

log() { printf '\033[1m[bench %4ds]\033[0m %s\n' $((SECONDS - T0)) "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ------------------------------------------------------------ cleanup
PREFECT_SERVER_PID=
PREFECT_SERVER_HOME=
KUBE_TMP=
WORK=
stop_prefect() {
	if [[ -n $PREFECT_SERVER_PID ]]; then
		bash hack/prefect/stop.sh "$PREFECT_SERVER_PID" "$PREFECT_SERVER_HOME" || true
		PREFECT_SERVER_PID= PREFECT_SERVER_HOME=
	fi
}
MEASURING=
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [[ -n $MEASURING ]]; then
		kill -TERM -- "-$MEASURING" 2>/dev/null || true
		wait "$MEASURING" 2>/dev/null || true
	fi
	stop_prefect
	if [[ -n $KUBE_TMP ]]; then
		bash hack/kube/stop.sh "$KUBE_TMP" >/dev/null || true
	fi
	[[ -n $WORK ]] && rm -rf -- "$WORK"
	if ((rc != 0)); then
		log "failed (exit $rc); servers stopped. Records so far: $RESULTS"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$OUT"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/prefect-apply-bench.XXXXXX")
: >"$RESULTS"

# ------------------------------------------------------------ build
log "building bin/prefect-apply and the bench helpers"
make --no-print-directory build
$GO build -o "$WORK/measure" ./bench/measure
$GO build -o "$WORK/gen" ./bench/gen
$GO build -o "$WORK/report" ./bench/report
MEASURE=$WORK/measure

log "Prefect and kube-apiserver (cached after the first run)"
bash hack/prefect/install.sh >&2
bash hack/kube/build.sh >&2

# ------------------------------------------------------------ machine
meta() { # meta KEY=VALUE...: a record of facts about the run
	"$PY" -c 'import json,sys; print(json.dumps({"tags": dict([a.split("=",1) for a in sys.argv[1:]] + [("what","meta")])}))' "$@" >>"$RESULTS"
}
cpu_model=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
mem_total=$(awk '/^MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)
prefect_version=$("$PREFECT" version 2>/dev/null | awk '/^Version:/ {print $2}')
meta "nproc=$(nproc)" "memory=$mem_total" "cpu=$cpu_model" "go=$($GO env GOVERSION)" \
	"prefect=$prefect_version" "commit=$(git rev-parse --short HEAD)" "date=$(date -u +%FT%TZ)" \
	"load_start=$(cut -d' ' -f1-3 /proc/loadavg)"
log "machine: $(nproc) CPUs ($cpu_model), $mem_total; load $(cut -d' ' -f1-3 /proc/loadavg); Prefect $prefect_version"

# ------------------------------------------------------------ Go benchmarks
if [[ $GO_BENCH != 0 ]]; then
	log "Go benchmarks (pure parts, N = 1000)"
	$GO test -run '^$' -bench . -benchmem -benchtime "$GO_BENCHTIME" -count 1 \
		./internal/config ./internal/jobtemplate ./internal/plan ./internal/render | tee "$OUT/go-bench.txt" >&2
fi

# ------------------------------------------------------------ files, validate
# measure TAGS... -- COMMAND: run it, record it, print a one-line summary.
measure() {
	local tags=() names=() line
	while [[ $1 != -- ]]; do tags+=(-tag "$1"); names+=("$1"); shift; done
	shift
	# In its own process group, waited for in the background: a signal to
	# this script then stops the measured command and all it started.
	setsid "$MEASURE" -record "$RESULTS" -out "$WORK/last.out" -err "$WORK/last.err" "${tags[@]}" -- "$@" \
		>"$WORK/last.json" &
	MEASURING=$!
	wait "$MEASURING" || die "measure failed: $*"
	MEASURING=
	line=$(<"$WORK/last.json")
	printf '    %-36s %s\n' "${names[*]}" "$(sed -E 's/,"routes":.*\}\}/}/' <<<"$line")" >&2
	LAST_EXIT=$(sed -E 's/.*"exit":([0-9]+).*/\1/' <<<"$line")
}

export BENCH_PREFECT_AUTH_STRING=bench:not-a-password
for n in $SIZES; do
	"$WORK/gen" -n "$n" -o "$WORK/pools-$n.yaml"
	log "validate, N = $n ($(wc -c <"$WORK/pools-$n.yaml") bytes)"
	for ((i = 1; i <= VALIDATE_RUNS; i++)); do
		measure n="$n" what=validate -- "$BIN" validate -f "$WORK/pools-$n.yaml"
		((LAST_EXIT == 0)) || die "validate of the generated file failed: $(cat "$WORK/last.err")"
	done
done

# ------------------------------------------------------------ servers
log "starting kube-apiserver + etcd"
# KUBE_WATCH_PID: should this script be killed outright, the servers stop
# once it is gone.
kube_env=$(KUBE_WATCH_PID=$$ bash hack/kube/start.sh) || die "kube-apiserver did not start"
eval "$kube_env"
export KUBECONFIG

# The Prefect CLI and the Python client get their own home, so that no
# profile of the caller's is read or written.
export PREFECT_HOME=$WORK/prefect-client-home
mkdir -p "$PREFECT_HOME"
unset PREFECT_API_KEY PREFECT_API_AUTH_STRING PREFECT_PROFILE

# server_floor POOLS QUEUES: the Prefect requests `diff` sends to read
# everything (the pages of the three filter endpoints), sent one after the
# other with curl and nothing decoded: what the server alone takes to
# answer them, the floor under any client reading the same objects.
server_floor() {
	local o
	post() {
		curl -sf --compressed -o /dev/null -X POST -H 'Content-Type: application/json' \
			-d "{\"limit\": 200, \"offset\": $2}" "$PREFECT_API_URL/$1/filter"
	}
	post variables 0 || return 1
	for ((o = 0; o <= $1; o += 200)); do post work_pools "$o" || return 1; done
	for ((o = 0; o <= $2; o += 200)); do post work_queues "$o" || return 1; done
}
export -f server_floor

cli_loop() { # cli_loop POOL...: what a runbook's troubleshooting step does
	local p
	for p in "$@"; do
		"$PREFECT" work-pool inspect "$p" >/dev/null || return 1
		"$PREFECT" work-queue ls --pool "$p" >/dev/null || return 1
	done
}
export -f cli_loop
export PREFECT

for n in $SIZES; do
	file=$WORK/pools-$n.yaml
	log "N = $n: starting a fresh Prefect server"
	prefect_env=$(bash hack/prefect/start.sh) || die "the Prefect server did not start"
	eval "$prefect_env"
	export PREFECT_API_URL
	meta "n=$n" "load_before_$n=$(cut -d' ' -f1-3 /proc/loadavg)" "sync_concurrency_$n=$CONCURRENCY"

	# What a pull request that adds the file shows: every object to
	# create, in each output format. diff exits 2 (changes). A fresh
	# server answers its first request about half a second late; one
	# request before keeps that out of the first measurement.
	curl -sf -o /dev/null -X POST -H 'Content-Type: application/json' -d '{"limit": 1}' \
		"$PREFECT_API_URL/work_pools/filter" || die "the Prefect server does not answer"
	log "N = $n: diff before the first sync (text, json, markdown)"
	for format in text json markdown; do
		measure n="$n" what="diff-new-$format" -- "$BIN" diff -f "$file" --output "$format"
		((LAST_EXIT == 2)) || die "diff before the first sync (--output $format) exited $LAST_EXIT, want 2: $(tail -n 3 "$WORK/last.err")"
		meta "diff_new_bytes_${n}_$format=$(wc -c <"$WORK/last.out")"
	done

	log "N = $n: sync from empty (--concurrency $CONCURRENCY)"
	measure n="$n" what=sync -- "$BIN" sync -f "$file" --yes --stats --concurrency "$CONCURRENCY"
	cp "$WORK/last.out" "$OUT/sync-$n.out"
	for ((i = 1; LAST_EXIT != 0; i++)); do
		((i <= 3)) || die "sync of N = $n did not converge; see $OUT/sync-$n.out"
		log "N = $n: sync exited $LAST_EXIT ($(grep -c 'failed' "$WORK/last.out") failed); running it again"
		measure n="$n" what=sync-rerun -- "$BIN" sync -f "$file" --yes --stats --concurrency "$CONCURRENCY"
		cp "$WORK/last.out" "$OUT/sync-$n-rerun-$i.out"
	done

	pools=()
	for ((i = 0; i < n; i++)); do pools+=("$(printf 'bench-%d-pool-%04d' "$n" "$i")"); done
	for ((r = 1; r <= ROUNDS; r++)); do
		log "N = $n: round $r/$ROUNDS: diff, diff --skip-kubernetes, server floor, read_async.py (per-pool, filter)"
		measure n="$n" what=diff round="$r" -- "$BIN" diff -f "$file" --stats
		((LAST_EXIT == 0)) || log "N = $n: diff exited $LAST_EXIT: not in sync after sync (see $OUT/diff-$n.out)"
		cp "$WORK/last.out" "$OUT/diff-$n.out"
		measure n="$n" what=diff-skip-kube round="$r" -- "$BIN" diff -f "$file" --stats --skip-kubernetes
		measure n="$n" what=server-floor round="$r" -- bash -c 'server_floor "$@"' server_floor "$n" $((3 * n))
		for mode in per-pool filter; do
			measure n="$n" what="async-$mode" round="$r" -- "$PY" bench/read_async.py --queues "$mode" \
				--expect-pools "$n" --expect-queues $((3 * n))
			((LAST_EXIT == 0)) || log "N = $n: read_async.py --queues $mode: $(tail -n 3 "$WORK/last.err")"
		done
		if ((r == 1)) && [[ " $CLI_SIZES " == *" $n "* ]]; then
			log "N = $n: Prefect CLI loop over $n pools ($((2 * n)) CLI runs)"
			measure n="$n" what=cli-loop -- bash -c 'cli_loop "$@"' cli_loop "${pools[@]}"
			((LAST_EXIT == 0)) || log "N = $n: CLI loop failed: $(tail -n 5 "$WORK/last.err")"
		fi
	done

	meta "load_after_$n=$(cut -d' ' -f1-3 /proc/loadavg)"
	stop_prefect
done

bash hack/kube/stop.sh "$KUBE_TMP" >/dev/null || true
KUBE_TMP=
meta "load_end=$(cut -d' ' -f1-3 /proc/loadavg)" "total_s=$((SECONDS - T0))"

# ------------------------------------------------------------ report
gobench=()
[[ -f $OUT/go-bench.txt ]] && gobench=(-gobench "$OUT/go-bench.txt")
"$WORK/report" -results "$RESULTS" "${gobench[@]}" >"$OUT/report.md"
echo
cat "$OUT/report.md"
echo
log "done in $((SECONDS - T0)) s; records and report in $OUT"
