#!/usr/bin/env bash
# Benchmarks the school bridge's latency beside the homeserver's own echo and
# writes its section of docs/benchmarks.md. Run with `make bench-bridge`.
#
# On a fresh demo stack with serve (the bridge) and a mail catcher, the
# program bridge/internal/latency sends BENCH_RATE messages per second in
# each direction for BENCH_SECONDS: a member's messages in the bridged room
# (echo: until her own /sync has them; Matrix -> mail: until the mail
# catcher has accepted the mail) and school mails to the bridge's SMTP server
# (mail -> event: until the member's /sync has the school's message).
#
# Environment: BENCH_RATE (default 20), BENCH_SECONDS (default 60),
# BENCH_KINDS (default "dendrite synapse").
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=local
bin=$PWD/bin/landesmessenger
out=${1:-docs/benchmarks.md}
rate=${BENCH_RATE:-20}
seconds=${BENCH_SECONDS:-60}
kinds=${BENCH_KINDS:-dendrite synapse}
work=$(mktemp -d)
serve_pid= mc_pid=
trap '[ -n "$serve_pid" ] && kill -INT "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null; [ -n "$mc_pid" ] && kill -TERM "$mc_pid" 2>/dev/null && wait "$mc_pid" 2>/dev/null; for d in "$work"/stack-*/; do [ -d "$d" ] && LM_STACK_DIR=$d "$bin" stack down --purge >/dev/null 2>&1 || true; done; rm -rf "$work"' EXIT

make -s build
go build -tags goolm -o "$work/latency" ./bridge/internal/latency
free() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print("127.0.0.1:%d" % s.getsockname()[1]); s.close()'; }

rows=()
for kind in $kinds; do
	export LM_STACK_DIR=$work/stack-$kind LM_LOG_LEVEL=warn LM_ONBOARDING_ENABLED=false
	export LM_BRIDGE_SMTP=$(free) LM_BRIDGE_APPSERVICE=$(free) LM_BRIDGE_RELAY=$(free)
	ui=$(free)
	"$bin" bridge mailcatcher --smtp "$LM_BRIDGE_RELAY" --ui "$ui" --dir "$work/mc-$kind" > "$work/mc-$kind.log" 2>&1 &
	mc_pid=$!
	"$bin" stack up -c config/example.yaml --homeserver "$kind" >/dev/null
	"$bin" apply -c config/example.yaml >/dev/null || "$bin" apply -c config/example.yaml >/dev/null
	LM_LOG_LEVEL=info "$bin" serve -c config/example.yaml > "$work/serve-$kind.log" 2>&1 &
	serve_pid=$!
	for _ in $(seq 180); do grep -q 'school bridge running' "$work/serve-$kind.log" && break; sleep 1; done
	room=$(grep 'bridged room ready' "$work/serve-$kind.log" | grep 'room=schulamt-kassel' | grep -oE 'room_id="?![^" ]*' | grep -m1 -oE '![^" ]*')
	url=$(python3 -c 'import json,sys; print([h for h in json.load(open(sys.argv[1]))["homeservers"] if h["name"]=="schule"][0]["client_url"])' "$LM_STACK_DIR/stack.json")
	server=$(python3 -c 'import json,sys; print([h for h in json.load(open(sys.argv[1]))["homeservers"] if h["name"]=="schule"][0]["server_name"])' "$LM_STACK_DIR/stack.json")
	pw=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$LM_STACK_DIR/credentials.json" "@cschulz:$server")
	load_before=$(cut -d' ' -f1 /proc/loadavg)
	result=$("$work/latency" -client-url "$url" -user "@cschulz:$server" -password "$pw" -room "$room" -smtp "$LM_BRIDGE_SMTP" \
		-mailpit "http://$ui" -rate "$rate" -duration "${seconds}s")
	load_after=$(cut -d' ' -f1 /proc/loadavg)
	kill -INT "$serve_pid"; wait "$serve_pid" || true; serve_pid=
	kill -TERM "$mc_pid"; wait "$mc_pid" || true; mc_pid=
	"$bin" stack down --purge >/dev/null
	rows+=("$(python3 - "$result" "$kind" "$load_before" "$load_after" <<'PY'
import json, sys
r, k, before, after = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
cells = [k, r["n"], f'{r["echo_p50_ms"]} / {r["echo_p99_ms"]}', f'{r["matrix_to_mail_p50_ms"]} / {r["matrix_to_mail_p99_ms"]}',
         f'{r["mail_to_event_p50_ms"]} / {r["mail_to_event_p99_ms"]}',
         f'{r["echo_count"]} / {r["matrix_to_mail_count"]} / {r["mail_to_event_count"]}', before + " / " + after]
print("| " + " | ".join(str(c) for c in cells) + " |")
PY
)")
done

{
	echo "## School bridge: latency beside the homeserver's echo"
	echo
	echo "Written by \`scripts/bench-bridge.sh\` (\`make bench-bridge\`) on $(date -u +%Y-%m-%d): $(nproc) cores, $(go version | cut -d' ' -f3)."
	echo "Command: \`BENCH_RATE=$rate BENCH_SECONDS=$seconds BENCH_KINDS=\"$kinds\" scripts/bench-bridge.sh\`. Demo stack, serve with the bridge,"
	echo "Mailpit as relay. $rate messages/s in each direction for $seconds s: echo = a member's message until her own /sync has it;"
	echo "Matrix -> mail = the same message until the relay accepted its mail; mail -> event = a school's mail handed to the"
	echo "bridge's SMTP server until the member's /sync has the school's message."
	echo
	echo "| kind | messages each way | echo p50 / p99 ms | Matrix -> mail p50 / p99 ms | mail -> event p50 / p99 ms | measured (echo / mail / event) | load before / after |"
	echo "|---|---|---|---|---|---|---|"
	printf '%s\n' "${rows[@]}"
} | python3 scripts/bench-section.py "$out" bridge
echo "wrote the bridge section of $out"
