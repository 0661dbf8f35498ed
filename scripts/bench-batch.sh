#!/usr/bin/env bash
# Batches against single events: events/s through POST /v1/events (one
# event a request) and POST /v1/events:batch (batches of 100 and of 1,000
# events), in one run against ONE `atoguard serve --clock wall` (SQLite,
# synchronous FULL, the defaults), with wrk on loopback, the passes
# alternating:
#
#   scripts/bench-batch.sh [OUTPUT.md]   (default: $TMPDIR/bench-batch-<time>.md)
#
# After one unrecorded warm-up of single events, each round measures
# single events, batches of 100 and batches of 1,000, one after the other.
# Every event is built anew (scripts/bench-batch.lua: the mix of
# scripts/bench-http.lua), so no two events of the run are the same. The
# table gives, per pass, requests/s, events/s, p50 and p99 of a request,
# the ratio of events/s to the round's single-event pass, and the server's
# CPU time per event (utime + stime of the process from /proc, over the
# measured pass).
#
# Environment: ROUNDS (2), THREADS (2), CONNS (32: single events),
# BATCH_CONNS (4: batches; a batch is assessed on one core, so a few in
# flight keep both cores busy), DURATION (15s), WARMUP (5s), PORT (18380).
# Needs wrk (Debian: apt-get install -y wrk) and curl. It only talks to
# 127.0.0.1; the server it starts is stopped and its data removed on exit.
set -euo pipefail

cd "$(dirname "$0")/.."
# The approved toolchain (README, docs/security.md); fetched on first use.
export GOTOOLCHAIN=go1.27.3
THREADS=${THREADS:-2}
CONNS=${CONNS:-32}
BATCH_CONNS=${BATCH_CONNS:-4}
DURATION=${DURATION:-15s}
WARMUP=${WARMUP:-5s}
PORT=${PORT:-18380}
ROUNDS=${ROUNDS:-2}
out=${1:-${TMPDIR:-/tmp}/bench-batch-$(date -u +%Y%m%dT%H%M%SZ).md}

shopt -s inherit_errexit
command -v wrk >/dev/null || { echo "bench-batch: wrk is missing (Debian: apt-get install -y wrk)" >&2; exit 1; }
for tool in curl go; do
	command -v "$tool" >/dev/null || { echo "bench-batch: $tool is missing" >&2; exit 1; }
done

work=$(mktemp -d)
server_pid=
cleanup() {
	if [[ -n $server_pid ]]; then
		kill "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

export ATOGUARD_API_KEY="bench-$RANDOM$RANDOM$RANDOM"

echo "building..." >&2
go build -o "$work/atoguard" ./cmd/atoguard

url="http://127.0.0.1:$PORT/v1/events"
"$work/atoguard" serve --clock wall --data "$work/data" --listen "127.0.0.1:$PORT" >"$work/atoguard.log" 2>&1 &
server_pid=$!
for i in $(seq 150); do
	curl -fsS -o /dev/null "http://127.0.0.1:$PORT/readyz" 2>/dev/null && break
	kill -0 "$server_pid" 2>/dev/null || { cat "$work/atoguard.log" >&2; exit 1; }
	[[ $i == 150 ]] && { echo "bench-batch: not ready after 15s" >&2; exit 1; }
	sleep 0.1
done

# cpu_ticks: the server's user + system CPU time so far, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$server_pid/stat"; }
ticks_per_s=$(getconf CLK_TCK)

# run BATCH CONNS DURATION TID_BASE [--latency]: one wrk pass.
run() {
	WRK_BATCH=$1 WRK_TID_BASE=$4 wrk -t"$THREADS" -c"$2" -d"$3" --timeout 10s ${5:-} -s scripts/bench-batch.lua "$url"
}

# measure NAME BATCH CONNS TID_BASE: the measured pass into
# $work/wrk-NAME.txt, with the server's CPU ticks over it in $work/cpu-NAME.
measure() {
	echo "measuring $1: WRK_BATCH=$2 WRK_TID_BASE=$4 wrk -t$THREADS -c$3 -d$DURATION --latency --timeout 10s -s scripts/bench-batch.lua $url" >&2
	local t0
	t0=$(cpu_ticks)
	run "$2" "$3" "$DURATION" "$4" --latency >"$work/wrk-$1.txt"
	echo $(($(cpu_ticks) - t0)) >"$work/cpu-$1"
}

field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<" $1"; }

row() { # LABEL NAME CONNS SINGLE_EVENTS_PER_S
	local r e
	r=$(grep '^RESULT ' "$work/wrk-$2.txt")
	e=$(grep '^EVENTS ' "$work/wrk-$2.txt")
	awk -v label="$1" -v conns="$3" -v n="$(field "$r" requests)" -v rps="$(field "$r" rps)" \
		-v events="$(field "$e" events)" -v eps="$(field "$e" events_per_s)" -v base="${4:-$(field "$e" events_per_s)}" \
		-v p50="$(field "$r" p50_us)" -v p99="$(field "$r" p99_us)" -v bad="$(field "$r" non2xx)" \
		-v errs="$(($(field "$r" connect_errors) + $(field "$r" read_errors) + $(field "$r" write_errors) + $(field "$r" timeouts)))" \
		-v ticks="$(cat "$work/cpu-$2")" -v hz="$ticks_per_s" \
		'BEGIN { printf "| %s | %d | %d | %.0f | %.0f | %.2f | %.2f | %.2f | %.1f | %d | %d |\n",
			label, conns, n, rps, eps, p50/1000, p99/1000, eps/base, (events > 0 ? ticks / hz * 1e6 / events : 0), bad, errs }'
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "warming up: $WARMUP of single events" >&2
run 1 "$CONNS" "$WARMUP" 90 >/dev/null
rows=()
names=()
for round in $(seq "$ROUNDS"); do
	# Thread numbers differ per pass, so that no two passes send the same
	# attack addresses, combo logins or request ids.
	base=$(((round - 1) * 3 * THREADS))
	measure "r$round-single" 1 "$CONNS" "$base"
	measure "r$round-b100" 100 "$BATCH_CONNS" $((base + THREADS))
	measure "r$round-b1000" 1000 "$BATCH_CONNS" $((base + 2 * THREADS))
	single=$(field "$(grep '^EVENTS ' "$work/wrk-r$round-single.txt")" events_per_s)
	rows+=("$(row "$round: single events (POST /v1/events)" "r$round-single" "$CONNS" "$single")")
	rows+=("$(row "$round: batches of 100 (POST /v1/events:batch)" "r$round-b100" "$BATCH_CONNS" "$single")")
	rows+=("$(row "$round: batches of 1,000 (POST /v1/events:batch)" "r$round-b1000" "$BATCH_CONNS" "$single")")
	names+=("r$round-single" "r$round-b100" "r$round-b1000")
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
curl -fsS "http://127.0.0.1:$PORT/metrics" >"$work/metrics.txt" || true

{
	echo "## Batches against single events, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo
	echo "- machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(awk '/MemTotal/ { printf "%.1f GiB", $2/1048576 }' /proc/meminfo) RAM"
	echo "- $(go version), $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
	echo "- load average (1, 5, 15 min) before: $load_before; after: $load_after (other jobs on the machine add noise)"
	echo "- one \`atoguard serve --clock wall\` (SQLite, synchronous FULL) for the whole run; load: wrk -t$THREADS -d$DURATION --latency --timeout 10s -s scripts/bench-batch.lua after a $WARMUP warm-up; wrk shares the $(nproc) CPUs with the server"
	echo
	echo "| round: requests | connections | requests | requests/s | events/s | p50 ms (a request) | p99 ms (a request) | events/s ratio to single | server CPU µs per event | non-2xx | socket errors |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|"
	printf '%s\n' "${rows[@]}"
	echo
	echo "Events and decisions over the run (atoguard_events_total, atoguard_decisions_total):"
	echo
	echo '```'
	grep '^atoguard_events_total\|^atoguard_decisions_total' "$work/metrics.txt" || true
	echo '```'
	echo
	echo "Raw wrk output:"
	for name in "${names[@]}"; do
		echo
		echo "### $name"
		echo
		echo '```'
		grep -v '^RESULT\|^EVENTS' "$work/wrk-$name.txt"
		echo '```'
	done
} | tee "$out"
echo "saved to $out" >&2
