#!/usr/bin/env bash
# HTTP benchmark of POST /v1/events: atoguard against the bare baseline
# handler (internal/benchtool/bare: same decoding, no detection, no store),
# in one run on this machine, with wrk on loopback.
#
#   scripts/bench-http.sh [OUTPUT.md]   (default: $TMPDIR/bench-http-<time>.md)
#
# Passes, each after a short unrecorded warm-up, each server alone on the
# machine while it is measured:
#   1. bare
#   2. atoguard serve --clock wall (SQLite synchronous FULL, the default)
#   3. atoguard with `synchronous: NORMAL` (--config), to show what FULL's
#      fsync per group commit costs
#   4. atoguard (FULL) offered half the bare throughput (WRK_THINK_MS: each
#      connection pauses between requests), to read its p99 at that load
#   5. atoguard (FULL) offered half of its own throughput of pass 2: its
#      latency when it is not saturated
# Then a Markdown table: requests/s, p50, p99 and the ratio to bare.
#
# Environment: ROUNDS (1: passes 1-4 once; more repeat them, to see the
# noise), THREADS (2), CONNS (32), DURATION (20s), WARMUP (3s),
# PORT (18080; the servers use PORT..PORT+4). Needs wrk (Debian: apt-get
# install -y wrk) and curl. Everything it starts is stopped on exit.
set -euo pipefail

cd "$(dirname "$0")/.."
# The approved toolchain (README, docs/security.md); fetched on first use.
export GOTOOLCHAIN=go1.27.3
THREADS=${THREADS:-2}
CONNS=${CONNS:-32}
DURATION=${DURATION:-20s}
WARMUP=${WARMUP:-3s}
PORT=${PORT:-18080}
ROUNDS=${ROUNDS:-1}
out=${1:-${TMPDIR:-/tmp}/bench-http-$(date -u +%Y%m%dT%H%M%SZ).md}

shopt -s inherit_errexit
command -v wrk >/dev/null || { echo "bench-http: wrk is missing (Debian: apt-get install -y wrk)" >&2; exit 1; }
for tool in curl go; do
	command -v "$tool" >/dev/null || { echo "bench-http: $tool is missing" >&2; exit 1; }
done

work=$(mktemp -d)
server_pid=
stop_server() {
	if [[ -n $server_pid ]]; then
		kill "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
		server_pid=
	fi
}
cleanup() { stop_server; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

export ATOGUARD_API_KEY="bench-$RANDOM$RANDOM$RANDOM"

echo "building..." >&2
go build -o "$work/atoguard" ./cmd/atoguard
go build -o "$work/bare" ./internal/benchtool/bare

# wait_ready URL: up to 15 s for URL to answer 200.
wait_ready() {
	for _ in $(seq 150); do
		curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
		kill -0 "$server_pid" 2>/dev/null || { echo "bench-http: server exited" >&2; return 1; }
		sleep 0.1
	done
	echo "bench-http: $1 not ready after 15s" >&2
	return 1
}

# start NAME PORT CMD...: starts a server, waits for /readyz.
start() {
	local name=$1 port=$2
	shift 2
	"$@" >"$work/$name.log" 2>&1 &
	server_pid=$!
	wait_ready "http://127.0.0.1:$port/readyz"
}

# load NAME PORT [THINK_MS]: warm-up, then the measured wrk pass; prints
# the RESULT line of scripts/bench-http.lua.
load() {
	local name=$1 port=$2 think=${3:-0}
	local url="http://127.0.0.1:$port/v1/events"
	WRK_THINK_MS=$think wrk -t"$THREADS" -c"$CONNS" -d"$WARMUP" --timeout 5s -s scripts/bench-http.lua "$url" >/dev/null
	echo "measuring $name: wrk -t$THREADS -c$CONNS -d$DURATION --latency --timeout 5s -s scripts/bench-http.lua $url (WRK_THINK_MS=$think)" >&2
	WRK_THINK_MS=$think wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency --timeout 5s -s scripts/bench-http.lua "$url" >"$work/wrk-$name.txt"
	grep '^RESULT ' "$work/wrk-$name.txt" | sed "s/^RESULT /RESULT name=$name /"
}

field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"; }

atoguard_serve() { # NAME PORT [CONFIG]
	local args=(serve --clock wall --data "$work/data-$1-${round:-0}" --listen "127.0.0.1:$2")
	[[ -n ${3:-} ]] && args+=(--config "$3")
	start "$1" "$2" "$work/atoguard" "${args[@]}"
}

row() { # LABEL RESULT BARE_RPS
	awk -v label="$1" -v rps="$(field "$2" rps)" -v p50="$(field "$2" p50_us)" -v p99="$(field "$2" p99_us)" \
		-v n="$(field "$2" requests)" -v bad="$(field "$2" non2xx)" -v base="$3" \
		-v errs="$(($(field "$2" connect_errors) + $(field "$2" read_errors) + $(field "$2" write_errors) + $(field "$2" timeouts)))" \
		'BEGIN { printf "| %s | %d | %.0f | %.2f | %.2f | %.2f | %d | %d |\n", label, n, rps, p50/1000, p99/1000, rps/base, bad, errs }'
}

printf 'synchronous: NORMAL\n' >"$work/normal.yaml"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
rows=()
for round in $(seq "$ROUNDS"); do
	start bare "$PORT" "$work/bare" -listen "127.0.0.1:$PORT"
	r_bare=$(load bare "$PORT")
	stop_server

	atoguard_serve atoguard-full $((PORT + 1))
	r_full=$(load atoguard-full $((PORT + 1)))
	curl -fsS "http://127.0.0.1:$((PORT + 1))/metrics" >"$work/metrics-full.txt"
	stop_server

	atoguard_serve atoguard-normal $((PORT + 2)) "$work/normal.yaml"
	r_normal=$(load atoguard-normal $((PORT + 2)))
	stop_server

	# Half the bare throughput: each connection pauses so that CONNS of
	# them offer about bare/2 requests/s (a little less, as the latency
	# adds to the pause).
	half=$(awk -v r="$(field "$r_bare" rps)" 'BEGIN { printf "%d", r / 2 }')
	think=$(awk -v c="$CONNS" -v h="$half" 'BEGIN { t = c * 1000 / h; printf "%d", (t < 1 ? 1 : t) }')
	atoguard_serve atoguard-half $((PORT + 3))
	r_half=$(load atoguard-half $((PORT + 3)) "$think")
	stop_server

	# Half of atoguard's own saturated throughput: its latency when it is
	# not the bottleneck.
	think2=$(awk -v c="$CONNS" -v r="$(field "$r_full" rps)" 'BEGIN { t = c * 1000 / (r / 2); printf "%d", (t < 1 ? 1 : t) }')
	atoguard_serve atoguard-light $((PORT + 4))
	r_light=$(load atoguard-light $((PORT + 4)) "$think2")
	stop_server

	bare_rps=$(field "$r_bare" rps)
	rows+=("$(row "$round: bare (decode only)" "$r_bare" "$bare_rps")")
	rows+=("$(row "$round: atoguard, synchronous FULL" "$r_full" "$bare_rps")")
	rows+=("$(row "$round: atoguard, synchronous NORMAL" "$r_normal" "$bare_rps")")
	rows+=("$(row "$round: atoguard FULL, offered ≈ bare/2 (think ${think} ms)" "$r_half" "$bare_rps")")
	rows+=("$(row "$round: atoguard FULL, offered ≈ its own max/2 (think ${think2} ms)" "$r_light" "$bare_rps")")
	for name in bare atoguard-full atoguard-normal atoguard-half atoguard-light; do
		mv "$work/wrk-$name.txt" "$work/wrk-$round-$name.txt"
	done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

{
	echo "## HTTP benchmark, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo
	echo "- machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(awk '/MemTotal/ { printf "%.1f GiB", $2/1048576 }' /proc/meminfo) RAM"
	echo "- $(go version), $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2)"
	echo "- load average (1, 5, 15 min) before: $load_before; after: $load_after (other jobs on the machine add noise)"
	echo "- load: wrk -t$THREADS -c$CONNS -d$DURATION --latency --timeout 5s -s scripts/bench-http.lua, after a $WARMUP warm-up; wrk shares the $(nproc) CPUs with the server"
	echo
	echo "| round: server | requests | requests/s | p50 ms | p99 ms | ratio to bare | non-2xx | socket errors |"
	echo "|---|---|---|---|---|---|---|---|"
	printf '%s\n' "${rows[@]}"
	echo
	echo "Decisions given in the last FULL pass (atoguard_decisions_total), and its server-side assess time:"
	echo
	echo '```'
	grep '^atoguard_decisions_total' "$work/metrics-full.txt" || true
	grep '^atoguard_assess_duration_seconds_\(sum\|count\)' "$work/metrics-full.txt" || true
	echo '```'
	echo
	echo "Raw wrk output:"
	for round in $(seq "$ROUNDS"); do
		for name in bare atoguard-full atoguard-normal atoguard-half atoguard-light; do
			echo
			echo "### round $round, $name"
			echo
			echo '```'
			grep -v '^RESULT' "$work/wrk-$round-$name.txt"
			echo '```'
		done
	done
} | tee "$out"
echo "saved to $out" >&2
