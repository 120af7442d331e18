#!/usr/bin/env bash
# Benchmarks the retention sweep against a plain loop issuing the same
# deletions, and the extra time filing 10 % of the messages adds, and writes
# its section of docs/benchmarks.md. Run with `make bench-retention`.
#
# On a fresh demo stack with three sets of BENCH_ROOMS cross-tenant rooms
# (BENCH_MSGS messages each, sent by the service account):
#   loop:   bench-l-NN: the program service/internal/sweepbench reads the
#           messages (not timed), then redacts them room after room with
#           service.RedactConcurrency in flight;
#   sweep:  bench-s-NN (max_lifetime 1d): serve's retention worker with its
#           clock two days ahead; the time is the sum of its per-room times
#           (reading the timeline, planning, redacting, logging);
#   filing: bench-f-NN (max_lifetime 1d, with the archive bot): as sweep, but
#           every tenth message carries a 📁 (and each room one "!akte"
#           reply), which the sweep files before it deletes.
# Target: sweep / loop at most 1.15.
#
# Environment: BENCH_ROOMS (default 50), BENCH_MSGS (default 400),
# BENCH_KINDS (default "dendrite"; on Synapse the sweep purges, so its ratio
# is not against the same calls).
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=local
bin=$PWD/bin/landesmessenger
out=${1:-docs/benchmarks.md}
rooms=${BENCH_ROOMS:-50}
msgs=${BENCH_MSGS:-400}
kinds=${BENCH_KINDS:-dendrite}
work=$(mktemp -d)
serve_pid=
trap '[ -n "$serve_pid" ] && kill -INT "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null; for d in "$work"/stack-*/; do [ -d "$d" ] && LM_STACK_DIR=$d "$bin" stack down --purge >/dev/null 2>&1 || true; done; rm -rf "$work"' EXIT

make -s build
go build -tags goolm -o "$work/sweepbench" ./service/internal/sweepbench

# The example with the three sets of rooms, their retention and the archive
# bot in the filing set.
python3 - "$rooms" "$work/config.yaml" <<'PY'
import sys
n, dst = int(sys.argv[1]), sys.argv[2]
text = open("config/example.yaml", encoding="utf-8").read()
rooms = "".join(f"  - {{id: bench-{s}-{i:02d}, name: Bench {s} {i}, host: land, tenants: [hmdis], audience: all}}\n"
                for s in "lsf" for i in range(1, n + 1))
assert text.count("\nrooms:\n") == 1
text = text.replace("\nrooms:\n", "\nrooms:\n" + rooms, 1)
rules = "".join(f"    bench-{s}-{i:02d}:\n      max_lifetime: 1d\n" for s in "sf" for i in range(1, n + 1))
assert text.count("\n  rooms:\n    # Timber sales") == 1
text = text.replace("\n  rooms:\n    # Timber sales", "\n  rooms:\n" + rules + "    # Timber sales", 1)
archived = "".join(f"    - bench-f-{i:02d}\n" for i in range(1, n + 1))
assert text.count("\n  rooms:\n    - hmdis/allgemein\n") == 1
text = text.replace("\n  rooms:\n    - hmdis/allgemein\n", "\n  rooms:\n" + archived + "    - hmdis/allgemein\n", 1)
open(dst, "w", encoding="utf-8").write(text)
PY

rows=()
for kind in $kinds; do
	export LM_STACK_DIR=$work/stack-$kind LM_LOG_LEVEL=warn
	"$bin" stack up -c "$work/config.yaml" --homeserver "$kind" >/dev/null
	"$bin" apply -c "$work/config.yaml" >/dev/null || "$bin" apply -c "$work/config.yaml" >/dev/null
	load_before=$(cut -d' ' -f1 /proc/loadavg)
	last_mark=$("$work/sweepbench" -c "$work/config.yaml" -rooms "$rooms" -msgs "$msgs" seed)
	loop=$("$work/sweepbench" -c "$work/config.yaml" -rooms "$rooms" loop)
	# Marks older than the bots' start grace (2 min) are not dispatched
	# live: the sweep finds and files them.
	python3 - "$last_mark" <<'PY'
import sys, time, datetime
t = datetime.datetime.fromisoformat(sys.argv[1].replace("Z", "+00:00")).timestamp()
time.sleep(max(0, t + 125 - time.time()))
PY
	now=$(python3 -c 'import datetime; print((datetime.datetime.now(datetime.timezone.utc)+datetime.timedelta(days=2)).isoformat().replace("+00:00","Z"))')
	LM_LOG_LEVEL=info LM_RETENTION_NOW=$now LM_RETENTION_EVERY=5s \
		"$bin" serve -c "$work/config.yaml" > "$work/serve-$kind.log" 2>&1 &
	serve_pid=$!
	for _ in $(seq 900); do
		swept=$(grep 'msg="expired messages deleted"' "$work/serve-$kind.log" | grep -o 'room=rooms/bench-[sf]-[0-9]*' | sort -u | wc -l || true)
		[ "$swept" -ge $((2 * rooms)) ] && break
		sleep 1
	done
	kill -INT "$serve_pid"; wait "$serve_pid" || true; serve_pid=
	load_after=$(cut -d' ' -f1 /proc/loadavg)
	entries=$("$bin" archive verify -c "$work/config.yaml" | head -1 | cut -d' ' -f1)
	[ -n "${BENCH_KEEP_LOG:-}" ] && cp "$work/serve-$kind.log" "$BENCH_KEEP_LOG-$kind.log"
	"$bin" stack down --purge >/dev/null
	rows+=("$(python3 - "$work/serve-$kind.log" "$loop" "$kind" "$rooms" "$entries" "$load_before" "$load_after" <<'PY'
import json, re, sys
log, loop, kind, rooms, entries, before, after = sys.argv[1:8]
loop = json.loads(loop)
took = {"s": 0, "f": 0}
deleted = {"s": 0, "f": 0}
seen = {"s": set(), "f": set()}
for line in open(log, encoding="utf-8"):
    if 'msg="expired messages deleted"' not in line:
        continue
    m = re.search(r"room=rooms/bench-([sf])-(\d+)", line)
    if not m:
        continue
    s = m.group(1)
    seen[s].add(m.group(2))
    took[s] += int(re.search(r"took_ms=(\d+)", line).group(1))
    deleted[s] += sum(int(x) for x in re.findall(r"(?:purged|redacted)=(\d+)", line))
if len(seen["s"]) != int(rooms) or len(seen["f"]) != int(rooms):
    sys.exit(f"swept {len(seen['s'])} and {len(seen['f'])} rooms, want {rooms} of each set; see the serve log")
ratio = took["s"] / loop["took_ms"]
cells = [kind, loop["redacted"], f'{loop["took_ms"]/1000:.1f}', deleted["s"], f'{took["s"]/1000:.1f}', f"{ratio:.2f}",
         "yes" if ratio <= 1.15 else "no", deleted["f"], entries, f'{took["f"]/1000:.1f}',
         f'{(took["f"]-took["s"])/1000:.1f}', f'{took["f"]/took["s"]:.2f}', before + " / " + after]
print("| " + " | ".join(str(c) for c in cells) + " |")
PY
)")
done

{
	echo "## Retention: sweep against a plain deletion loop"
	echo
	echo "Written by \`scripts/bench-retention.sh\` (\`make bench-retention\`) on $(date -u +%Y-%m-%d): $(nproc) cores, $(go version | cut -d' ' -f3)."
	echo "Command: \`BENCH_ROOMS=$rooms BENCH_MSGS=$msgs BENCH_KINDS=\"$kinds\" scripts/bench-retention.sh\`. One run: three sets of $rooms rooms"
	echo "with $msgs messages each on a fresh demo stack. *Loop*: the service account redacts the messages of its set room after"
	echo "room, 8 in flight (knowing the event IDs). *Sweep*: serve's retention worker on its set (reads each timeline, plans,"
	echo "redacts 8 in flight, logs each deletion); time = sum of its per-room times. *Filing*: the same with the archive bot"
	echo "in the rooms and every tenth message marked with 📁 (plus one \`!akte\` reply per room), filed by the sweep before"
	echo "it deletes; its deletions include the marks. Target: sweep / loop at most 1.15."
	echo
	echo "| kind | loop deletions | loop s | sweep deletions | sweep s | sweep / loop | target met | filing-set deletions | archive entries | filing-set s | extra s for filing | filing / sweep | load before / after |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
	printf '%s\n' "${rows[@]}"
} | python3 scripts/bench-section.py "$out" retention
echo "wrote the retention section of $out"
