#!/usr/bin/env bash
# make soak: the long versions of the reliability tests, against the real
# servers (started by the tests), with their figures at the end:
#
#   faults    sync under injected faults, every fault kind, many seeds
#             (test/e2e/faults; PREFECT_APPLY_SOAK_SEEDS seeds per kind)
#   robust    SIGINT/SIGTERM mid-sync, a second signal, racing syncs, prune
#             beside foreign objects, hard names (test/e2e/robust)
#   pipeline  random valid files against random live states, applied and
#             planned again through reconcile.Plan and reconcile.Apply:
#             nothing may be left to do (internal/reconcile;
#             PREFECT_APPLY_FUZZ_CASES cases)
#   fuzz      Go's fuzzer on the loader and on the pipeline, SOAK_FUZZTIME
#             each (default 2m)
#
# SOAK_PARTS picks parts (default: all four, in that order). Each part's
# whole output is kept in .cache/soak/<date-time>/<part>.log. Exits non-zero
# if any part failed; the figures of the parts that ran are printed either
# way.
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
PARTS=${SOAK_PARTS:-faults robust pipeline fuzz}
FUZZTIME=${SOAK_FUZZTIME:-2m}
OUT=${SOAK_OUT:-$REPO/.cache/soak/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
export PREFECT_APPLY_SOAK=1

declare -A status
ran=()
run() { # part, command...
	local part=$1
	shift
	ran+=("$part")
	printf '\033[1m[soak %5ss]\033[0m %s: %s\n' "$SECONDS" "$part" "$*"
	if "$@" >"$OUT/$part.log" 2>&1; then
		status[$part]=passed
	else
		status[$part]="FAILED (see $OUT/$part.log)"
	fi
	printf '\033[1m[soak %5ss]\033[0m %s: %s\n' "$SECONDS" "$part" "${status[$part]}"
}

for part in $PARTS; do
	case $part in
	faults) run faults go test -count=1 -v -timeout 90m -run '^TestSyncUnderFaults$' ./test/e2e/faults/ ;;
	robust) run robust go test -count=1 -v -timeout 30m ./test/e2e/robust/ ;;
	pipeline) run pipeline go test -count=1 -v -timeout 30m -run '^TestPipelineConverges$' ./internal/reconcile/ ;;
	fuzz)
		run fuzz-loader go test -count=1 -run '^$' -fuzz '^FuzzValidate$' -fuzztime "$FUZZTIME" ./internal/config/
		run fuzz-pipeline go test -count=1 -run '^$' -fuzz '^FuzzPipeline$' -fuzztime "$FUZZTIME" ./internal/reconcile/
		;;
	*) echo "soak.sh: unknown part $part (faults robust pipeline fuzz)" >&2; exit 2 ;;
	esac
done

echo
echo "## Figures ($OUT)"
if [[ -f $OUT/faults.log ]]; then
	echo
	sed -n '/^Fault soak:/,/^total/p' "$OUT/faults.log"
fi
if [[ -f $OUT/robust.log ]]; then
	echo
	grep -h '^robust figures:' "$OUT/robust.log" || true
fi
if [[ -f $OUT/pipeline.log ]]; then
	echo
	grep -ho 'pipeline fuzz: .*' "$OUT/pipeline.log" || true
fi
for f in fuzz-loader fuzz-pipeline; do
	if [[ -f $OUT/$f.log ]]; then
		echo
		echo "$f: $(grep -E '^fuzz: elapsed' "$OUT/$f.log" | tail -1)"
	fi
done
echo
failed=0
for part in "${ran[@]}"; do
	echo "$part: ${status[$part]}"
	[[ ${status[$part]} == passed ]] || failed=1
done
echo "soak done in ${SECONDS}s"
exit $failed
