#!/usr/bin/env bash
# Benchmarks provisioning and writes its section of docs/benchmarks.md. Run
# with `make bench-provisioning`.
#
#   planner:  BenchmarkPlan (Build + Compute on 100,000 people and 10,000
#             rooms), each case in a process of its own so that its peak RSS
#             is its own
#   converge: `landesmessenger apply` of a synthetic Land (7 tenants on the
#             4 homeservers, 200 rooms, 2,000 people) on a fresh stack,
#             against the baseline program
#             (provisioning/reconcile/internal/baseline), which issues the
#             same homeserver requests in a plain loop with the same
#             concurrency and nothing else; ours and the baseline alternate,
#             each on a fresh stack, ROUNDS times each, medians reported
#   no-op:    a second reconcile after ours: write requests and time
#
# Environment: BENCH_ROUNDS (default 2), BENCH_KINDS (default "dendrite
# synapse"), BENCH_PEOPLE (2000), BENCH_ROOMS (200), BENCH_PLAN_TIME (the
# planner's -benchtime, default 5x).
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=local
bin=$PWD/bin/landesmessenger
out=${1:-docs/benchmarks.md}
rounds=${BENCH_ROUNDS:-2}
kinds=${BENCH_KINDS:-dendrite synapse}
people=${BENCH_PEOPLE:-2000}
rooms=${BENCH_ROOMS:-200}
work=$(mktemp -d)
trap '{ [ -n "${sampler:-}" ] && kill "$sampler" 2>/dev/null; } || true; for d in "$work"/stack-*/; do [ -d "$d" ] && LM_STACK_DIR=$d "$bin" stack down --purge >/dev/null 2>&1 || true; done; rm -rf "$work"' EXIT

now() { python3 -c 'import time; print(time.time())'; }
secs() { python3 -c 'import sys,time; print(f"{time.time()-float(sys.argv[1]):.1f}")' "$1"; }
median() { python3 -c 'import statistics,sys; print(f"{statistics.median(float(x) for x in sys.argv[1:]):.1f}")' "$@"; }
load() { cut -d' ' -f1 /proc/loadavg; }
# field JSON NAME: a field of the one-line JSON reports of the baseline program.
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }

make -s build
go build -tags goolm -o "$work/baseline" ./provisioning/reconcile/internal/baseline
"$work/baseline" gen -dir "$work/land" -people "$people" -rooms "$rooms"
config=$work/land/config.yaml

# write_section writes the section with what is measured so far, so that an
# interrupted run keeps its finished steps.
write_section() {
	{
		echo "## Provisioning"
		echo
		echo "Written by \`scripts/bench-provisioning.sh\` (\`make bench-provisioning\`) on $(date -u +%Y-%m-%d): $(nproc) cores"
		echo "($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')), $(free -g | awk '/^Mem:/{print $2}') GB RAM, $(go version | cut -d' ' -f3)."
		echo "Command: \`BENCH_ROUNDS=$rounds BENCH_KINDS=\"$kinds\" scripts/bench-provisioning.sh\`."
		echo
		echo "### Planner: \`go test -tags goolm -run '^\$' -bench BenchmarkPlan/CASE -benchmem -benchtime 5x ./provisioning/\`"
		echo
		echo "Build + Compute on a synthetic Land (package \`provisioning/internal/synth\`): 7 tenants, 10,000 rooms"
		echo "(712 units and 712 further rooms per tenant), 100,000 people. Targets: under 1 s, under 500 MB."
		echo
		echo "| current state | actions | s per Build+Compute | peak heap MB | peak RSS MB (process) | allocated per op |"
		echo "|---|---|---|---|---|---|"
		printf '%s\n' "${planner_rows[@]}"
		echo
		echo "Each case runs in a process of its own; its peak RSS includes the fixture (configuration, people and, for"
		echo "converged, the current state of 10,000 rooms). converged-few-changes: 5 people renamed, 3 moved between"
		echo "units, 2 gone, one room missing, one power level changed by hand."
		echo
		echo "### Converge a fresh stack: $people people, $rooms rooms, 7 tenants on 4 homeservers"
		echo
		echo "Ours is \`landesmessenger apply -c CONFIG\` (wall time of the process). The baseline is"
		echo "\`provisioning/reconcile/internal/baseline run\`: it issues the same homeserver requests for each action, phase by"
		echo "phase with the same concurrency per homeserver (provisioning.concurrency: 4), without reading the"
		echo "homeservers, without database or credentials file and without retries (wall time of its process too)."
		echo "They alternate, each on a fresh stack, $rounds round(s) each; medians, single runs in brackets. Target: ours/baseline at most 1.10."
		echo
		echo "| kind | actions | ours s | baseline s | ours/baseline | write requests ours / baseline | failed actions ours / baseline (all rounds) | load average per run: at start/highest |"
		echo "|---|---|---|---|---|---|---|---|"
		printf '%s\n' "${conv_rows[@]}"
		echo
		echo "### No-op reconcile of the converged stack"
		echo
		echo "After each of our converge runs, \`apply\` runs once more to retry what failed (its outcome in the second"
		echo "column). Then the no-op: one reconcile in-process (\`baseline noop\`: service.Start, then Service.Reconcile as"
		echo "\`apply\` runs it, counting the requests of the homeserver connections), and \`apply\` once more through the CLI"
		echo "for the wall time of the whole command. Target: 0 write requests. Medians."
		echo
		echo "| kind | retry apply after the converge | no-op: actions planned | write requests | read requests | reconcile s (in-process) | \`apply\` s (CLI, whole process) |"
		echo "|---|---|---|---|---|---|---|"
		printf '%s\n' "${noop_rows[@]}"
	} | ./scripts/bench-section.py "$out" bench-provisioning
}

# --- planner ---------------------------------------------------------------
echo "planner benchmark ..." >&2
planner_rows=()
for c in empty converged-few-changes; do
	line=$(go test -tags goolm -run '^$' -bench "BenchmarkPlan/$c\$" -benchmem -benchtime "${BENCH_PLAN_TIME:-5x}" ./provisioning/ | grep '^BenchmarkPlan/')
	planner_rows+=("$(python3 - "$c" "$line" <<'PY'
import re, sys
case, line = sys.argv[1], sys.argv[2]
m = dict((u, float(v)) for v, u in re.findall(r"([\d.]+) (\S+)", line))
print(f"| {case} | {int(m['actions'])} | {m['ns/op']/1e9:.2f} | {m['peak-heap-MB']:.0f} | {m['peak-RSS-MB']:.0f} | {m['B/op']/1e6:.0f} MB, {m['allocs/op']/1e6:.1f} M |")
PY
)")
done
write_section

# --- converge and no-op ----------------------------------------------------
# fresh KIND NAME: starts a fresh stack in $work/stack-NAME and prints its folder.
fresh() {
	local dir=$work/stack-$2
	LM_STACK_DIR=$dir "$bin" --log-level warn stack up -c "$config" --homeserver "$1" >/dev/null
	echo "$dir"
}
purge() { LM_STACK_DIR=$1 "$bin" stack down --purge >/dev/null; }

conv_rows=()
noop_rows=()
for kind in $kinds; do
	ours=() base=() ours_w=() base_w=() base_r=() noop_cli=() noop_t=() noop_w=() noop_r=() noop_a=() retry=() loads=()
	failed_ours=0 failed_base=0 actions=0
	for round in $(seq "$rounds"); do
		order="ours baseline"
		[ $((round % 2)) -eq 0 ] && order="baseline ours"
		for who in $order; do
			echo "$kind round $round: $who ..." >&2
			dir=$(fresh "$kind" "$kind-$who-$round")
			# The load average at the start and its highest value during the
			# run (every 10 s): other work on the machine shows there.
			start_load=$(load)
			(while :; do load; sleep 10; done) >"$work/load.txt" &
			sampler=$!
			t0=$(now)
			if [ "$who" = ours ]; then
				LM_STACK_DIR=$dir "$bin" apply -c "$config" >"$work/apply.out" 2>"$work/apply.err" || true
				ours+=("$(secs "$t0")")
				summary=$(grep '^Applied' "$work/apply.out" || { cat "$work/apply.out" "$work/apply.err" >&2; exit 1; })
				read -r done_n total f w < <(sed -E 's/^Applied ([0-9]+) of ([0-9]+) actions in [^ ]+ \(([0-9]+) failed; ([0-9]+) write requests\)\./\1 \2 \3 \4/' <<<"$summary")
				actions=$total failed_ours=$((failed_ours + f))
				ours_w+=("$w")
				# A second apply retries what failed, so that the no-op
				# starts from a converged stack.
				LM_STACK_DIR=$dir "$bin" apply -c "$config" >"$work/retry.out" 2>"$work/retry.err" || true
				retry+=("$(grep -E '^(Applied|In sync)' "$work/retry.out" | sed -E 's/^Applied ([0-9]+) of ([0-9]+) actions.*\(([0-9]+) failed.*/\2 actions, \3 failed/; s/^In sync.*/in sync/')")
				# No-op: in-process for the requests it makes, then through
				# the CLI for the time of the whole command.
				rep=$(LM_STACK_DIR=$dir "$work/baseline" noop -c "$config")
				noop_t+=("$(field "$rep" seconds)") noop_w+=("$(field "$rep" writes)") noop_r+=("$(field "$rep" reads)") noop_a+=("$(field "$rep" actions)")
				t0=$(now)
				LM_STACK_DIR=$dir "$bin" apply -c "$config" >"$work/noop.out" 2>&1 || true
				noop_cli+=("$(secs "$t0")")
			else
				rep=$(LM_STACK_DIR=$dir "$work/baseline" run -c "$config")
				base+=("$(secs "$t0")")
				failed_base=$((failed_base + $(field "$rep" failed)))
				base_w+=("$(field "$rep" writes)") base_r+=("$(field "$rep" reads)")
			fi
			kill "$sampler"
			wait "$sampler" 2>/dev/null || true
			loads+=("$who $start_load/$(sort -n "$work/load.txt" | tail -1)")
			purge "$dir"
		done
	done
	mo=$(median "${ours[@]}") mb=$(median "${base[@]}")
	conv_rows+=("| $kind | $actions | $mo (${ours[*]}) | $mb (${base[*]}) | $(python3 -c "print(f'{$mo/$mb:.2f}')") | $(median "${ours_w[@]}" | cut -d. -f1) / $(median "${base_w[@]}" | cut -d. -f1) | $failed_ours / $failed_base | $(IFS=,; echo "${loads[*]}" | sed "s/,/, /g") |")
	noop_rows+=("| $kind | $(IFS=';'; echo "${retry[*]}") | $(median "${noop_a[@]}" | cut -d. -f1) | $(median "${noop_w[@]}" | cut -d. -f1) | $(median "${noop_r[@]}" | cut -d. -f1) | $(python3 -c "import statistics; print(f'{statistics.median([${noop_t[*]// /,}]):.2f}')") | $(median "${noop_cli[@]}") |")
	write_section
done

write_section
sed -n '/<!-- begin bench-provisioning -->/,/<!-- end bench-provisioning -->/p' "$out"
