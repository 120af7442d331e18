#!/usr/bin/env bash
# Runs CI N times in a row, each in a fresh clone of this repository's HEAD:
# `bash .ci/run` as CI does, then `make bench-smoke` (every benchmark with
# its smallest sizes; SOAK_BENCH=0 skips it). Prints pass/fail and wall time
# per run and exits 1 if any run failed. Each run's output is kept in
# $SOAK_DIR/run-I.log and bench-I.log (default: a new temporary folder).
#
#   scripts/soak-ci.sh 3
set -uo pipefail
n=${1:-1}
repo=$(git rev-parse --show-toplevel)
rev=$(git -C "$repo" rev-parse --short HEAD)
dir=${SOAK_DIR:-$(mktemp -d -t lm-soak-ci-XXXXXX)}
mkdir -p "$dir"
echo "soak-ci: $n run(s) of .ci/run at $rev; logs in $dir"
failed=0
for i in $(seq 1 "$n"); do
	clone="$dir/clone-$i"
	rm -rf "$clone"
	git clone -q "$repo" "$clone"
	git -C "$clone" checkout -q "$rev"
	start=$(date +%s)
	(cd "$clone" && bash .ci/run) >"$dir/run-$i.log" 2>&1
	rc=$?
	secs=$(($(date +%s) - start))
	result=$(grep -E '^tests: ' "$dir/run-$i.log" | tail -n 1)
	if [ $rc -eq 0 ]; then
		verdict=pass
	else
		verdict=FAIL
		failed=$((failed + 1))
	fi
	printf 'run %d: %s in %dm%02ds (%s)\n' "$i" "$verdict" $((secs / 60)) $((secs % 60)) "${result:-no test summary}"
	if [ $rc -eq 0 ] && [ "${SOAK_BENCH:-1}" = 1 ]; then
		start=$(date +%s)
		(cd "$clone" && make bench-smoke) >"$dir/bench-$i.log" 2>&1
		rc=$?
		secs=$(($(date +%s) - start))
		if [ $rc -eq 0 ]; then
			printf 'run %d: bench-smoke pass in %dm%02ds\n' "$i" $((secs / 60)) $((secs % 60))
		else
			failed=$((failed + 1))
			printf 'run %d: bench-smoke FAIL in %dm%02ds (see %s)\n' "$i" $((secs / 60)) $((secs % 60)) "$dir/bench-$i.log"
		fi
	fi
	[ $rc -eq 0 ] && rm -rf "$clone"
done
echo "soak-ci: $((n - failed)) of $n passed"
[ $failed -eq 0 ]
