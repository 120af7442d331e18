#!/usr/bin/env bash
# Benchmarks the admin bot's command round trip against the homeserver's own
# echo and writes its section of docs/benchmarks.md. Run with
# `make bench-bot`.
#
# On a fresh demo stack of each kind, with serve running the admin bots, the
# program bots/admin/internal/roundtrip alternates, N times each:
#   echo:    the Land admin's encrypted message -> decrypted by a second
#            member of the Land admin room (the homeserver's own round trip)
#   command: the Land admin's `!status` -> the bot's encrypted reply
#            decrypted by the admin (parse, authorize, audit, ⏳, status,
#            reply, ✅)
# Target: command p50 and p95 at most 1.5 x the echo's.
#
# Onboarding is off: with it the Land admin sits in the welcome room until
# she acknowledges the data-protection instruction, and the benchmark
# measures the admin bot, not onboarding.
#
# Environment: BENCH_N (default 200), BENCH_KINDS (default "dendrite synapse").
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=local
bin=$PWD/bin/landesmessenger
out=${1:-docs/benchmarks.md}
n=${BENCH_N:-200}
kinds=${BENCH_KINDS:-dendrite synapse}
work=$(mktemp -d)
serve_pid=
trap '[ -n "$serve_pid" ] && kill -INT "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null; for d in "$work"/stack-*/; do [ -d "$d" ] && LM_STACK_DIR=$d "$bin" stack down --purge >/dev/null 2>&1 || true; done; rm -rf "$work"' EXIT

make -s build
go build -tags goolm -o "$work/roundtrip" ./bots/admin/internal/roundtrip
# The example, with the rate limit out of the way of 2 x N commands.
sed 's/commands_per_minute: 20/commands_per_minute: 6000/' config/example.yaml > "$work/config.yaml"

rows=()
for kind in $kinds; do
	export LM_STACK_DIR=$work/stack-$kind LM_LOG_LEVEL=warn LM_ONBOARDING_ENABLED=false
	"$bin" stack up -c "$work/config.yaml" --homeserver "$kind" >/dev/null
	"$bin" apply -c "$work/config.yaml" >/dev/null || "$bin" apply -c "$work/config.yaml" >/dev/null
	LM_LOG_LEVEL=${BENCH_SERVE_LOG:-info} "$bin" serve -c "$work/config.yaml" > "$work/serve-$kind.log" 2>&1 &
	serve_pid=$!
	for _ in $(seq 120); do
		[ "$(grep -c 'admin bot running' "$work/serve-$kind.log" || true)" -ge 4 ] && break
		sleep 1
	done
	server=$(python3 -c 'import json,sys; print([h for h in json.load(open(sys.argv[1]))["homeservers"] if h["name"]=="land"][0]["server_name"])' "$LM_STACK_DIR/stack.json")
	url=$(python3 -c 'import json,sys; print([h for h in json.load(open(sys.argv[1]))["homeservers"] if h["name"]=="land"][0]["client_url"])' "$LM_STACK_DIR/stack.json")
	pw() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$LM_STACK_DIR/credentials.json" "$1"; }
	load_before=$(cut -d' ' -f1 /proc/loadavg)
	result=$("$work/roundtrip" -client-url "$url" -alias "#lm.rooms.verwaltung:$server" \
		-admin "@kwagner:$server" -admin-password "$(pw "@kwagner:$server")" \
		-peer "@sweber:$server" -peer-password "$(pw "@sweber:$server")" \
		-bot "@lm-verwaltung:$server" -n "$n")
	load_after=$(cut -d' ' -f1 /proc/loadavg)
	kill -INT "$serve_pid"; wait "$serve_pid" || true; serve_pid=
	[ -n "${BENCH_KEEP_LOG:-}" ] && cp "$work/serve-$kind.log" "$BENCH_KEEP_LOG-$kind.log"
	"$bin" stack down --purge >/dev/null
	rows+=("$(python3 - "$result" "$kind" "$load_before" "$load_after" <<'PY'
import json, sys
r, k, before, after = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ok = "yes" if r["ratio_p50"] <= 1.5 and r["ratio_p95"] <= 1.5 else "no"
cells = [k, r["n"], r["echo_p50_ms"], r["echo_p95_ms"], r["command_p50_ms"], r["command_p95_ms"], r["ratio_p50"], r["ratio_p95"], ok, before + " / " + after]
print("| " + " | ".join(str(c) for c in cells) + " |")
PY
)")
done

{
	echo "## Admin bot: command round trip"
	echo
	echo "Written by \`scripts/bench-bot.sh\` (\`make bench-bot\`) on $(date -u +%Y-%m-%d): $(nproc) cores, $(go version | cut -d' ' -f3)."
	echo "Command: \`BENCH_N=$n BENCH_KINDS=\"$kinds\" scripts/bench-bot.sh\`. On the demo stack with serve running;"
	echo "echo = an encrypted message of the Land admin until a second member has it decrypted; command = \`!status\`"
	echo "until the admin has the bot's encrypted reply decrypted. Alternating, N of each. Target: ratio at most 1.5."
	echo
	echo "| kind | N | echo p50 ms | echo p95 ms | command p50 ms | command p95 ms | ratio p50 | ratio p95 | target met | load before / after |"
	echo "|---|---|---|---|---|---|---|---|---|---|"
	printf '%s\n' "${rows[@]}"
} | python3 scripts/bench-section.py "$out" admin-bot
echo "wrote the admin-bot section of $out"
