#!/usr/bin/env bash
# Memory benchmark: a credential-stuffing flood of 1,000,000 failed logins
# for unknown accounts, each from a distinct source IP, within one hour of
# event time, sent on loopback to `atoguard serve --clock event` through
# POST /v1/events:batch (internal/benchtool/flood). Then it checks that the
# per-IP table stayed within its cap (atoguard_source_keys{kind="ip"} <=
# engine.sources.max_ips) and reports the server's resident memory
# (VmRSS now, VmHWM the peak) from /proc/PID/status.
#
#   scripts/bench-memory.sh [OUTPUT.md]   (default: $TMPDIR/bench-memory-<time>.md)
#
# Environment: EVENTS (1000000), BATCH (1000), WORKERS (2), MAX_IPS
# (200000, the default cap), MAX_ACCOUNTS (engine.incidents.max_accounts;
# empty: the default, 100,000), SYNCHRONOUS (FULL), TIMEOUT (15m: the flood
# gives up after that), PORT (18180). Everything it starts is stopped on
# exit; the data directory (about 1 KB per event) is removed.
set -euo pipefail
shopt -s inherit_errexit

cd "$(dirname "$0")/.."
# The approved toolchain (README, docs/security.md); fetched on first use.
export GOTOOLCHAIN=go1.27.3
EVENTS=${EVENTS:-1000000}
BATCH=${BATCH:-1000}
WORKERS=${WORKERS:-2}
MAX_IPS=${MAX_IPS:-200000}
MAX_ACCOUNTS=${MAX_ACCOUNTS:-}
SYNCHRONOUS=${SYNCHRONOUS:-FULL}
TIMEOUT=${TIMEOUT:-15m}
PORT=${PORT:-18180}
out=${1:-${TMPDIR:-/tmp}/bench-memory-$(date -u +%Y%m%dT%H%M%SZ).md}

for tool in curl go; do
	command -v "$tool" >/dev/null || { echo "bench-memory: $tool is missing" >&2; exit 1; }
done

work=$(mktemp -d)
server_pid=
sampler_pid=
cleanup() {
	[[ -n $sampler_pid ]] && kill "$sampler_pid" 2>/dev/null || true
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
go build -o "$work/flood" ./internal/benchtool/flood

cat >"$work/config.yaml" <<EOF
clock: event
synchronous: $SYNCHRONOUS
api:
  max_body_bytes: 4194304 # a batch of 1000 events is about 330 KB
engine:
  sources:
    max_ips: $MAX_IPS
EOF
if [[ -n $MAX_ACCOUNTS ]]; then
	printf '  incidents:\n    max_accounts: %d\n' "$MAX_ACCOUNTS" >>"$work/config.yaml"
fi

url="http://127.0.0.1:$PORT"
"$work/atoguard" serve --config "$work/config.yaml" --data "$work/data" --listen "127.0.0.1:$PORT" >"$work/atoguard.log" 2>&1 &
server_pid=$!
for i in $(seq 150); do
	curl -fsS -o /dev/null "$url/readyz" 2>/dev/null && break
	kill -0 "$server_pid" 2>/dev/null || { cat "$work/atoguard.log" >&2; exit 1; }
	[[ $i == 150 ]] && { echo "bench-memory: not ready after 15s" >&2; exit 1; }
	sleep 0.1
done

status() { sed -n "s/^$1:[[:space:]]*//p" "/proc/$server_pid/status"; }
rss_start=$(status VmRSS)

# RSS every 5 s while the flood runs (bounded: the flood has a timeout).
(
	while kill -0 "$server_pid" 2>/dev/null; do
		printf '%s %s\n' "$(date -u +%T)" "$(sed -n 's/^VmRSS:[[:space:]]*//p' "/proc/$server_pid/status")"
		sleep 5
	done
) >"$work/rss.txt" &
sampler_pid=$!

cmd="flood -url $url -events $EVENTS -batch $BATCH -workers $WORKERS -timeout $TIMEOUT"
echo "running: $cmd" >&2
"$work/flood" -url "$url" -events "$EVENTS" -batch "$BATCH" -workers "$WORKERS" -timeout "$TIMEOUT" | tee "$work/flood.txt" >&2

rss_end=$(status VmRSS)
hwm=$(status VmHWM)
kill "$sampler_pid" 2>/dev/null || true
sampler_pid=
db=$(du -sh "$work/data" | cut -f1)
ips=$(sed -n 's/^atoguard_source_keys{kind="ip"} //p' "$work/flood.txt")
verdict=$(awk -v n="$ips" -v cap="$MAX_IPS" 'BEGIN { if (n != "" && n + 0 <= cap + 0) print "yes"; else print "NO" }')

{
	echo "## Memory benchmark, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo
	echo "- machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(awk '/MemTotal/ { printf "%.1f GiB", $2/1048576 }' /proc/meminfo) RAM; $(go version)"
	echo "- server: atoguard serve --config (clock: event, synchronous: $SYNCHRONOUS, api.max_body_bytes: 4 MiB, engine.sources.max_ips: $MAX_IPS, engine.incidents.max_accounts: ${MAX_ACCOUNTS:-default})"
	echo "- load: $cmd"
	echo "- load average (1, 5, 15 min) at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo
	echo "| figure | value |"
	echo "|---|---|"
	echo "| events sent (each from a distinct IP) | $(sed -n 's/^flood_events //p' "$work/flood.txt") in $(sed -n 's/^flood_event_time_span //p' "$work/flood.txt") of event time |"
	echo "| wall time, events/s through the API | $(sed -n 's/^flood_wall_seconds //p' "$work/flood.txt") s, $(sed -n 's/^flood_events_per_second //p' "$work/flood.txt") |"
	echo "| atoguard_source_keys{kind=\"ip\"} | $ips (cap $MAX_IPS; within the cap: $verdict) |"
	echo "| VmRSS after start | $rss_start |"
	echo "| VmRSS after the flood | $rss_end |"
	echo "| VmHWM (peak RSS) | $hwm |"
	echo "| data directory | $db |"
	echo
	echo "/metrics after the flood:"
	echo
	echo '```'
	grep -v '^flood_\|^open_incidents_json' "$work/flood.txt"
	echo '```'
	echo
	echo "Open incident (GET /v1/incidents?state=open):"
	echo
	echo '```'
	sed -n 's/^open_incidents_json //p' "$work/flood.txt"
	echo '```'
	echo
	echo "RSS every 5 s: $(awk '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $2, $3 }' "$work/rss.txt")"
} | tee "$out"
echo "saved to $out" >&2
[[ $verdict == yes ]]
