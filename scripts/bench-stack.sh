#!/usr/bin/env bash
# Measures `landesmessenger stack up` with the example config (four
# homeservers) for both kinds, and the memory of the running stack, and writes
# its section of docs/benchmarks.md (scripts/bench-section.py). Run with
# `make bench-stack`.
#
#   cold:    empty cache folder (install included), empty Go module and build
#            caches and no pip cache (everything downloaded and built), and an
#            empty stack folder
#   fresh:   homeserver installed, empty stack folder (first start, new databases)
#   restart: `stack up` after `stack down` on the same folder
#
# Memory is the summed PSS (proportional set size: shared pages split between
# the processes sharing them, so PostgreSQL's shared buffers count once) of
# every process of the stack (homeservers, and for Synapse the PostgreSQL
# server and its backends), 5 s after `stack up`.
#
# Environment: BENCH_KINDS (default "dendrite synapse"), BENCH_COLD (default
# 1; 0 skips the cold start, which downloads and builds everything and so
# needs the network and several minutes: `make bench-smoke` sets it).
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=local
bin=bin/landesmessenger
config=config/example.yaml
out=${1:-docs/benchmarks.md}
work=$(mktemp -d)
trap 'for d in "$work"/*/; do LM_STACK_DIR=$d "$bin" stack down --purge >/dev/null 2>&1 || true; done; rm -rf "$work"' EXIT

secs() { python3 -c 'import sys,time; print(f"{time.time()-float(sys.argv[1]):.1f}")' "$1"; }
now() { python3 -c 'import time; print(time.time())'; }

# pss_mb DIR: summed PSS (MB) of the stack's processes and their children.
pss_mb() {
	python3 - "$1/stack.json" <<'PY'
import json, os, sys
st = json.load(open(sys.argv[1]))
roots = [h["pid"] for h in st["homeservers"]]
if st.get("postgres"):
    roots.append(st["postgres"]["pid"])
children = {}
for p in os.listdir("/proc"):
    if p.isdigit():
        try:
            ppid = int(open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        children.setdefault(ppid, []).append(int(p))
total, seen, todo = 0, set(), list(roots)
while todo:
    pid = todo.pop()
    if pid in seen:
        continue
    seen.add(pid)
    todo += children.get(pid, [])
    try:
        for line in open(f"/proc/{pid}/smaps_rollup"):
            if line.startswith("Pss:"):
                total += int(line.split()[1])
    except OSError:
        pass
print(f"{total/1024:.0f} {len(seen)}")
PY
}

up() { # up KIND DIR CACHE [ENV...]
	local kind=$1 dir=$2 cache=$3 t0
	shift 3
	t0=$(now)
	env "$@" LM_CACHE_DIR="$cache" LM_STACK_DIR="$dir" "$bin" --log-level warn stack up -c "$config" --homeserver "$kind" >/dev/null
	secs "$t0"
}

make -s build
rows=()
for kind in ${BENCH_KINDS:-dendrite synapse}; do
	echo "measuring $kind ..." >&2
	cold_cache=$work/cache-$kind
	if [ "${BENCH_COLD:-1}" = 1 ]; then
		cold=$(up "$kind" "$work/$kind-cold" "$cold_cache" GOMODCACHE="$work/gomod" GOCACHE="$work/gobuild" PIP_NO_CACHE_DIR=1)
		GOMODCACHE="$work/gomod" go clean -modcache
		rm -rf "$work/gobuild"
		LM_STACK_DIR=$work/$kind-cold "$bin" stack down --purge >/dev/null
	else
		cold=- cold_cache=${LM_CACHE_DIR:-$HOME/.cache/landesmessenger}
	fi
	fresh=$(up "$kind" "$work/$kind" "$cold_cache")
	sleep 5
	read -r mem procs < <(pss_mb "$work/$kind")
	LM_STACK_DIR=$work/$kind "$bin" stack down >/dev/null
	restart=$(up "$kind" "$work/$kind" "$cold_cache")
	LM_STACK_DIR=$work/$kind "$bin" stack down --purge >/dev/null
	ratio=-
	if [ "$cold" != - ]; then
		rm -rf "$cold_cache"
		ratio=$(python3 -c "print(f'{$restart/$cold:.3f}')")
	fi
	rows+=("| $kind | $cold | $fresh | $restart | $ratio | $mem MB in $procs processes |")
done

{
	echo "## Local stack: \`stack up -c config/example.yaml\` (four homeservers)"
	echo
	echo "Written by \`scripts/bench-stack.sh\` (\`make bench-stack\`) on $(date -u +%Y-%m-%d): $(nproc) cores"
	echo "($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')), $(go version | cut -d' ' -f3), load average $(cut -d' ' -f1 /proc/loadavg) at the end."
	echo "Command: \`scripts/bench-stack.sh\`. Numbers from one run."
	echo
	echo "| kind | cold s (install + first start) | fresh s (installed, empty folder) | restart s (after down) | restart/cold | memory (PSS) after up |"
	echo "|---|---|---|---|---|---|"
	printf '%s\n' "${rows[@]}"
	echo
	echo "Cold starts from an empty cache folder (\`LM_CACHE_DIR\`), empty Go module and build caches and no pip"
	echo "cache: it downloads and builds Dendrite (\`go install\`) or the Synapse venv, then starts the stack."
	echo "Fresh is the first start on empty databases with the homeserver installed; restart follows \`stack down\`."
	echo "Memory is the summed PSS of the homeservers (and PostgreSQL with its backends for Synapse), 5 s after up."
} | ./scripts/bench-section.py "$out" bench-stack
sed -n '/<!-- begin bench-stack -->/,/<!-- end bench-stack -->/p' "$out"
