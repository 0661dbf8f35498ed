#!/usr/bin/env bash
# Profiles `atoguard serve` (SQLite, synchronous FULL, the default) under
# the load of scripts/bench-http.sh: wrk posts the same mix of login
# events while the guard's CPU and allocation profiles are taken through
# /debug/pprof (served to loopback). Prints the top of each profile.
#
#   scripts/profile-serve.sh [OUTDIR]   (default: $TMPDIR/profile-serve-<time>)
#
# OUTDIR gets cpu.pprof, allocs.pprof (the difference over the load:
# allocations made while it ran), the binary, and top-cpu.txt/top-allocs.txt.
# A CPU profile of this load, merged over runs, is what cmd/atoguard/default.pgo
# is made from (docs/benchmarks.md, PGO).
#
# Environment: THREADS (2), CONNS (32), DURATION (20 or 20s, whole seconds), PORT (18090),
# BINARY (a built atoguard to profile; default: build one), PGO (the -pgo
# flag of that build: auto, off or a file; default auto).
set -euo pipefail

cd "$(dirname "$0")/.."
export GOTOOLCHAIN=go1.27.3
THREADS=${THREADS:-2}
CONNS=${CONNS:-32}
SECONDS_=${DURATION:-20}
SECONDS_=${SECONDS_%s} # 20 or 20s
case $SECONDS_ in '' | *[!0-9]*) echo "DURATION must be whole seconds (20 or 20s), not '$DURATION'" >&2; exit 2 ;; esac
PORT=${PORT:-18090}
out=${1:-${TMPDIR:-/tmp}/profile-serve-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$out"
command -v wrk >/dev/null || { echo "profile-serve: wrk is missing (Debian: apt-get install -y wrk)" >&2; exit 1; }

work=$(mktemp -d)
pid=
cleanup() {
	[[ -n $pid ]] && { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
export ATOGUARD_API_KEY="bench-$RANDOM$RANDOM$RANDOM"

bin=${BINARY:-}
if [[ -z $bin ]]; then
	bin=$out/atoguard
	go build -pgo="${PGO:-auto}" -o "$bin" ./cmd/atoguard
fi
base=http://127.0.0.1:$PORT
"$bin" serve --clock wall --data "$work/data" --listen "127.0.0.1:$PORT" >"$out/serve.log" 2>&1 &
pid=$!
for _ in $(seq 150); do
	curl -fsS -o /dev/null "$base/readyz" 2>/dev/null && break
	sleep 0.1
done
curl -fsS -o /dev/null "$base/readyz"

url=$base/v1/events
wrk -t"$THREADS" -c"$CONNS" -d3s -s scripts/bench-http.lua "$url" >/dev/null # warm-up
curl -fsS -o "$work/allocs-before.pprof" "$base/debug/pprof/allocs"
wrk -t"$THREADS" -c"$CONNS" -d"$((SECONDS_ + 2))s" --latency -s scripts/bench-http.lua "$url" >"$out/wrk.txt" &
wrk_pid=$!
sleep 1
curl -fsS -o "$out/cpu.pprof" "$base/debug/pprof/profile?seconds=$SECONDS_"
curl -fsS -o "$work/allocs-after.pprof" "$base/debug/pprof/allocs"
wait "$wrk_pid"
go tool pprof -proto -base "$work/allocs-before.pprof" "$work/allocs-after.pprof" >"$out/allocs.pprof" 2>/dev/null

{
	echo "load: wrk -t$THREADS -c$CONNS, ${SECONDS_}s profiled; $(grep -E 'Requests/sec' "$out/wrk.txt")"
	echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
	go tool pprof -top -nodecount=30 "$bin" "$out/cpu.pprof" 2>/dev/null
	echo
	go tool pprof -top -cum -nodecount=40 "$bin" "$out/cpu.pprof" 2>/dev/null | sed -n '/flat%/,$p'
} | tee "$out/top-cpu.txt"
go tool pprof -top -sample_index=alloc_objects -nodecount=30 "$bin" "$out/allocs.pprof" 2>/dev/null | tee "$out/top-allocs.txt"
echo "saved to $out" >&2
