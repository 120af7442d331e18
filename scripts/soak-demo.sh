#!/usr/bin/env bash
# Starts the demo (`make demo`'s scripts/demo.sh) N times in a row, each
# from an empty stack folder, and counts the failed actions of serve's first
# reconcile. Prints one line per start and exits 1 unless every first
# reconcile failed nothing. Logs stay in $SOAK_DIR (default: a new
# temporary folder).
#
# The demo has onboarding on, so a first reconcile joins most people only
# to their welcome room; LM_ONBOARDING_ENABLED=false makes it join everyone
# to every room, the cross-homeserver joins included.
#
#   scripts/soak-demo.sh 5
#   LM_ONBOARDING_ENABLED=false scripts/soak-demo.sh 5
set -uo pipefail
cd "$(dirname "$0")/.."
n=${1:-1}
dir=${SOAK_DIR:-$(mktemp -d -t lm-soak-demo-XXXXXX)}
mkdir -p "$dir"
make -s build || exit 1
echo "soak-demo: $n start(s) of the demo; logs in $dir"
bad=0
for i in $(seq 1 "$n"); do
	stack=$(mktemp -d -t lm-demo-XXXXXX)
	log=$dir/demo-$i.log
	start=$(date +%s)
	# A session of its own, so that one signal reaches the script, serve and
	# the mail catcher, as Ctrl-C does in a terminal.
	LM_STACK_DIR=$stack setsid scripts/demo.sh >"$log" 2>&1 &
	pid=$!
	line=
	for _ in $(seq 900); do
		line=$(grep -m1 'msg=reconciled' "$log" || true)
		[ -n "$line" ] && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 1
	done
	kill -TERM -- "-$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	LM_STACK_DIR=$stack bin/landesmessenger stack down --purge >/dev/null 2>&1
	rm -rf "$stack"
	failed=$(sed -n 's/.* failed=\([0-9]*\).*/\1/p' <<<"$line")
	took=$(sed -n 's/.* duration=\([^ ]*\).*/\1/p' <<<"$line")
	if [ -z "$line" ]; then
		bad=$((bad + 1))
		printf 'start %d: no first reconcile within 15 minutes (%ds); see %s\n' "$i" $(($(date +%s) - start)) "$log"
	elif [ "$failed" != 0 ]; then
		bad=$((bad + 1))
		printf 'start %d: first reconcile FAILED %s action(s) in %s; see %s\n' "$i" "$failed" "$took" "$log"
	else
		printf 'start %d: first reconcile 0 failed actions in %s (%ds from an empty folder)\n' "$i" "$took" $(($(date +%s) - start))
	fi
done
echo "soak-demo: $((n - bad)) of $n first reconciles without failed actions"
[ $bad -eq 0 ]
