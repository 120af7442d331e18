#!/usr/bin/env bash
# Runs every benchmark end to end with its smallest sizes, on Dendrite, into
# a scratch file (docs/benchmarks.md is left alone), so that a
# benchmark broken by a later feature shows at once. A few minutes in all.
# Run with `make bench-smoke`; scripts/soak-ci.sh runs it after CI.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=local BENCH_KINDS=dendrite
scratch=$(mktemp -d -t lm-bench-smoke-XXXXXX)
trap 'rm -rf "$scratch"' EXIT
out=$scratch/benchmarks.md

failed=0
step() { # step NAME SECTION COMMAND...: runs COMMAND, checks SECTION was written
	local name=$1 section=$2 start rc=0
	shift 2
	start=$(date +%s)
	"$@" >"$scratch/step.log" 2>&1 || rc=$?
	if [ $rc -eq 0 ] && [ -n "$section" ] && ! grep -q "<!-- begin $section -->" "$out"; then
		echo "(no section $section written)" >>"$scratch/step.log"
		rc=1
	fi
	if [ $rc -eq 0 ]; then
		printf 'bench-smoke: %-12s ok   %4ds\n' "$name" $(($(date +%s) - start))
	else
		printf 'bench-smoke: %-12s FAIL %4ds (exit %d); last lines:\n' "$name" $(($(date +%s) - start)) "$rc"
		tail -n 20 "$scratch/step.log" | sed 's/^/    /'
		failed=$((failed + 1))
	fi
	rm -f "$scratch/step.log"
}

step go "" go test -tags goolm -run '^$' -bench . -benchtime 1x ./...
step stack bench-stack env BENCH_COLD=0 scripts/bench-stack.sh "$out"
step provisioning bench-provisioning env BENCH_ROUNDS=1 BENCH_PEOPLE=100 BENCH_ROOMS=32 BENCH_PLAN_TIME=1x scripts/bench-provisioning.sh "$out"
step bot admin-bot env BENCH_N=5 scripts/bench-bot.sh "$out"
step retention retention env BENCH_ROOMS=2 BENCH_MSGS=10 scripts/bench-retention.sh "$out"
step bridge bridge env BENCH_RATE=2 BENCH_SECONDS=5 scripts/bench-bridge.sh "$out"
[ $failed -eq 0 ] || { echo "bench-smoke: $failed benchmark(s) failed"; exit 1; }
echo "bench-smoke: every benchmark ran"
