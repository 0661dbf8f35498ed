#!/usr/bin/env bash
# HTTP benchmark of POST /v1/events across stores and instances, in one run
# on this machine, with wrk on loopback (issue #8):
#
#   scripts/bench-multi.sh [OUTPUT.md]   (default: $TMPDIR/bench-multi-<time>.md)
#
# Passes, each after a short unrecorded warm-up, one after the other:
#   1. one instance, embedded SQLite (atoguard serve --clock wall, defaults)
#   2. one instance, records on PostgreSQL (a database this script creates
#      and drops) and hot on Redis (a key prefix of its own, deleted after)
#   3. two instances on different ports sharing one PostgreSQL database and
#      one Redis prefix (both fresh), loaded together: two wrk processes at
#      once, each with half the threads and connections
# Each PostgreSQL/Redis pass gets a fresh database and prefix, so pass 3 does
# not start by replaying pass 2's stream.
# Then Markdown tables: requests/s, p50, p99 and the ratio to pass 1 (pass 3:
# the sum of both instances' requests/s, and each one's latency), and the
# Redis round trips per event, from the counters of GET /readyz
# (components.redis.detail: published, applied, round_trips) read after the
# warm-up and after the measured run of each instance; and the load on the
# servers per event answered over the same span: PostgreSQL transactions
# and rows written (pg_stat_database of the pass's own database), Redis
# commands (XADD, XREAD, all) and bytes in and out (INFO commandstats and
# stats: the whole Redis server, so anything else using it adds to them),
# and the stream's memory per entry (MEMORY USAGE, XLEN).
#
# Environment: ROUNDS (1), THREADS (2), CONNS (32), DURATION (20s), WARMUP
# (3s), PORT (18280; the servers use PORT..PORT+3), ATOGUARD_BIN (a
# binary to run instead of building ./cmd/atoguard, to compare builds in
# one run), PG_URL_BASE
# (postgres://postgres@127.0.0.1:5432; the script creates its databases
# there, with psql, and drops them on exit), REDIS_URL
# (redis://127.0.0.1:6379/0). Needs wrk (Debian: apt-get install -y wrk),
# curl, jq, psql and redis-cli. It only talks to 127.0.0.1; everything it
# starts is stopped, and its databases and Redis keys removed, on exit.
set -euo pipefail

cd "$(dirname "$0")/.."
# The approved toolchain (README, docs/security.md); fetched on first use.
export GOTOOLCHAIN=go1.27.3
THREADS=${THREADS:-2}
CONNS=${CONNS:-32}
DURATION=${DURATION:-20s}
WARMUP=${WARMUP:-3s}
PORT=${PORT:-18280}
ROUNDS=${ROUNDS:-1}
PG_URL_BASE=${PG_URL_BASE:-postgres://postgres@127.0.0.1:5432}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
out=${1:-${TMPDIR:-/tmp}/bench-multi-$(date -u +%Y%m%dT%H%M%SZ).md}

shopt -s inherit_errexit
command -v wrk >/dev/null || { echo "bench-multi: wrk is missing (Debian: apt-get install -y wrk)" >&2; exit 1; }
for tool in curl go jq psql redis-cli; do
	command -v "$tool" >/dev/null || { echo "bench-multi: $tool is missing" >&2; exit 1; }
done
case "$PG_URL_BASE $REDIS_URL" in
*127.0.0.1*127.0.0.1*) ;;
*) echo "bench-multi: PG_URL_BASE and REDIS_URL must point at 127.0.0.1" >&2; exit 1 ;;
esac

# Half the threads and connections for each wrk of pass 3.
half_threads=$((THREADS / 2 > 0 ? THREADS / 2 : 1))
half_conns=$((CONNS / 2 > half_threads ? CONNS / 2 : half_threads))

work=$(mktemp -d)
run_id="agbench_$(date -u +%H%M%S)_$$"
server_pids=()
databases=()
prefixes=()
stop_servers() {
	local pid
	for pid in "${server_pids[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${server_pids[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	server_pids=()
}
pg() { psql "$PG_URL_BASE/postgres?sslmode=disable" -v ON_ERROR_STOP=1 -qAtc "$1"; }
redis() { redis-cli -u "$REDIS_URL" "$@"; }
drop_redis_prefix() {
	redis --scan --pattern "$1:*" | xargs -r -n 500 redis-cli -u "$REDIS_URL" del >/dev/null
}
cleanup() {
	stop_servers
	local db p
	for db in "${databases[@]}"; do
		pg "DROP DATABASE IF EXISTS $db WITH (FORCE)" || echo "bench-multi: could not drop database $db" >&2
	done
	for p in "${prefixes[@]}"; do
		drop_redis_prefix "$p" || echo "bench-multi: could not delete Redis keys $p:*" >&2
	done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

export ATOGUARD_API_KEY="bench-$RANDOM$RANDOM$RANDOM"

if [[ -n ${ATOGUARD_BIN:-} ]]; then
	cp "$ATOGUARD_BIN" "$work/atoguard"
else
	echo "building..." >&2
	go build -o "$work/atoguard" ./cmd/atoguard
fi

# Keys the PostgreSQL/Redis instances share.
head -c 32 /dev/urandom >"$work/secret.key"
printf 'k1:%s\n' "$(head -c 32 /dev/urandom | base64)" >"$work/factor.keys"
chmod 600 "$work/secret.key" "$work/factor.keys"

# wait_ready PID URL: up to 30 s for URL to answer 200.
wait_ready() {
	for _ in $(seq 300); do
		curl -fsS -o /dev/null "$2" 2>/dev/null && return 0
		kill -0 "$1" 2>/dev/null || { echo "bench-multi: server exited; its log:" >&2; cat "$work/$3.log" >&2; return 1; }
		sleep 0.1
	done
	echo "bench-multi: $2 not ready after 30s" >&2
	return 1
}

# serve NAME PORT [CONFIG]: starts atoguard --clock wall, waits for /readyz.
serve() {
	local name=$1 port=$2
	local args=(serve --clock wall --data "$work/data-$name" --listen "127.0.0.1:$port")
	[[ -n ${3:-} ]] && args+=(--config "$3")
	"$work/atoguard" "${args[@]}" >"$work/$name.log" 2>&1 &
	server_pids+=($!)
	wait_ready $! "http://127.0.0.1:$port/readyz" "$name"
}

# shared_config NAME PORT DB PREFIX: a config file for an instance on
# PostgreSQL database DB and Redis prefix PREFIX; prints its path.
shared_config() {
	local f="$work/$1.yaml"
	cat >"$f" <<YAML
listen: 127.0.0.1:$2
data: $work/data-$1
secret_key_file: $work/secret.key
stepup: {encryption_key_file: $work/factor.keys}
records: $PG_URL_BASE/$3?sslmode=disable
hot: {url: "$REDIS_URL", prefix: "$4", on_outage: open}
YAML
	echo "$f"
}

# fresh_store TAG: creates a database and picks a Redis prefix; sets db, prefix.
fresh_store() {
	db="${run_id}_$1"
	prefix="${run_id}_$1"
	pg "CREATE DATABASE $db"
	databases+=("$db")
	prefixes+=("$prefix")
}

# hot_counts PORT: "published applied round_trips backlog failed dropped"
# of the instance's Redis hub, from GET /readyz.
hot_counts() {
	curl -fsS "http://127.0.0.1:$1/readyz" |
		jq -r '.components.redis.detail | "\(.published) \(.applied) \(.round_trips) \(.backlog) \(.failed) \(.dropped)"'
}

# pg_counts DB: "transactions rows_inserted rows_updated rows_deleted" of
# database DB so far (committed and rolled back).
pg_counts() {
	pg "SELECT xact_commit + xact_rollback, tup_inserted, tup_updated, tup_deleted FROM pg_stat_database WHERE datname = '$1'" | tr '|' ' '
}

# redis_counts: "xadd_calls xread_calls all_calls bytes_in bytes_out" of
# the whole Redis server so far.
redis_counts() {
	redis INFO all | tr -d '\r' | awk -F'[:=,]' '
		/^cmdstat_/ { all += $3 }
		/^cmdstat_xadd:/ { xadd = $3 }
		/^cmdstat_xread:/ { xread = $3 }
		/^total_net_input_bytes:/ { in_ = $2 }
		/^total_net_output_bytes:/ { out = $2 }
		END { printf "%d %d %d %d %d\n", xadd, xread, all, in_, out }'
}

# load_row LABEL ANSWERED PG_BEFORE PG_AFTER REDIS_BEFORE REDIS_AFTER: the
# servers' load per event answered over a measured run.
load_row() {
	read -r tx0 ins0 upd0 del0 <<<"$3"
	read -r tx1 ins1 upd1 del1 <<<"$4"
	read -r xa0 xr0 all0 in0 out0 <<<"$5"
	read -r xa1 xr1 all1 in1 out1 <<<"$6"
	awk -v label="$1" -v n="$2" -v tx=$((tx1 - tx0)) -v rows=$((ins1 - ins0 + upd1 - upd0 + del1 - del0)) \
		-v xadd=$((xa1 - xa0)) -v xread=$((xr1 - xr0)) -v all=$((all1 - all0)) -v bin=$((in1 - in0)) -v bout=$((out1 - out0)) \
		'BEGIN { printf "| %s | %d | %d | %.1f | %.2f | %.3f | %.4f | %.3f | %.0f | %.0f |\n", label, n, tx, (tx > 0 ? n / tx : 0), rows / n,
			xadd / n, xread / n, all / n, bin / n, bout / n }'
}

# caught_up PORT_A PORT_B: waits (up to 60 s) until each instance has
# replayed (applied + failed) every event the other published.
caught_up() {
	for _ in $(seq 300); do
		read -r pa_pub pa_app _ _ pa_fail _ <<<"$(hot_counts "$1")"
		read -r pb_pub pb_app _ _ pb_fail _ <<<"$(hot_counts "$2")"
		((pa_app + pa_fail >= pb_pub && pb_app + pb_fail >= pa_pub)) && return 0
		sleep 0.2
	done
}

# cpu_ticks PID: the process's user + system CPU time so far, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
ticks_per_s=$(getconf CLK_TCK)

# cpu_row LABEL ANSWERED REPLAYED TICKS: an instance's CPU time over the
# measured run and the settling after it.
cpu_row() {
	awk -v label="$1" -v n="$2" -v r="$3" -v t="$4" -v hz="$ticks_per_s" \
		'BEGIN { printf "| %s | %d | %d | %.2f | %.1f | %.1f |\n", label, n, r, t / hz, (n > 0 ? t / hz * 1e6 / n : 0), (n + r > 0 ? t / hz * 1e6 / (n + r) : 0) }'
}

# settle PORT...: waits (up to 10 s) until the hubs' backlogs are empty and
# their counters stop moving, so published/applied cover the whole run.
settle() {
	local prev="" cur p
	for _ in $(seq 20); do
		sleep 0.5
		cur=""
		# not round_trips: the probe and the idle blocking read move it every second
		for p in "$@"; do cur+="$(hot_counts "$p" | cut -d' ' -f1,2,4-);"; done
		[[ $cur == "$prev" ]] && return 0
		prev=$cur
	done
}

wrk_cmd() { # THREADS CONNS DURATION URL [--latency]
	wrk -t"$1" -c"$2" -d"$3" --timeout 5s ${5:-} -s scripts/bench-multi.lua "$4"
}

# measure NAME PORT [TID_BASE THREADS CONNS]: the measured wrk pass into
# $work/wrk-NAME.txt (runs in the foreground; pass 3 runs two in the background).
measure() {
	local name=$1 port=$2 base=${3:-0} t=${4:-$THREADS} c=${5:-$CONNS}
	local url="http://127.0.0.1:$port/v1/events"
	echo "measuring $name: WRK_TID_BASE=$base wrk -t$t -c$c -d$DURATION --latency --timeout 5s -s scripts/bench-multi.lua $url" >&2
	WRK_TID_BASE=$base wrk_cmd "$t" "$c" "$DURATION" "$url" --latency >"$work/wrk-$name.txt"
}
warm() { # PORT [TID_BASE THREADS CONNS]
	WRK_TID_BASE=${2:-0} wrk_cmd "${3:-$THREADS}" "${4:-$CONNS}" "$WARMUP" "http://127.0.0.1:$1/v1/events" >/dev/null
}

result() { grep '^RESULT ' "$work/wrk-$1.txt" | sed 's/^RESULT //'; }
field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<" $1"; }
errors_of() {
	echo $(($(field "$1" connect_errors) + $(field "$1" read_errors) + $(field "$1" write_errors) + $(field "$1" timeouts)))
}

row() { # LABEL RESULT BASE_RPS [RPS]
	local rps=${4:-$(field "$2" rps)}
	awk -v label="$1" -v rps="$rps" -v p50="$(field "$2" p50_us)" -v p99="$(field "$2" p99_us)" \
		-v n="$(field "$2" requests)" -v bad="$(field "$2" non2xx)" -v base="$3" -v errs="$(errors_of "$2")" \
		'BEGIN { printf "| %s | %d | %.0f | %.2f | %.2f | %.2f | %d | %d |\n", label, n, rps, p50/1000, p99/1000, rps/base, bad, errs }'
}

# rt_row LABEL ANSWERED BEFORE AFTER: the Redis round trips of one instance
# over the measured run.
rt_row() {
	read -r pub0 app0 rt0 _ _ _ <<<"$3"
	read -r pub1 app1 rt1 backlog failed dropped <<<"$4"
	awk -v label="$1" -v n="$2" -v pub=$((pub1 - pub0)) -v app=$((app1 - app0)) -v rt=$((rt1 - rt0)) \
		-v backlog="$backlog" -v failed="$failed" -v dropped="$dropped" \
		'BEGIN { printf "| %s | %d | %d | %d | %d | %.4f | %.4f | %d / %d / %d |\n", label, n, pub, app, rt,
			(pub + app > 0 ? rt / (pub + app) : 0), (n > 0 ? rt / n : 0), backlog, failed, dropped }'
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
rows=()
rt_rows=()
load_rows=()
stream_rows=()
cpu_rows=()
settle_notes=()
names=()
for round in $(seq "$ROUNDS"); do
	# 1. embedded SQLite
	serve "r$round-sqlite" "$PORT"
	warm "$PORT"
	t0=$(cpu_ticks "${server_pids[0]}")
	measure "r$round-sqlite" "$PORT"
	cpu_rows+=("$(cpu_row "$round: one instance, embedded SQLite" "$(field "$(result "r$round-sqlite")" requests)" 0 $(($(cpu_ticks "${server_pids[0]}") - t0)))")
	stop_servers
	r_sqlite=$(result "r$round-sqlite")
	base_rps=$(field "$r_sqlite" rps)

	# 2. one instance on PostgreSQL + Redis
	fresh_store "r${round}_one"
	cfg=$(shared_config "r$round-pg" $((PORT + 1)) "$db" "$prefix")
	serve "r$round-pg" $((PORT + 1)) "$cfg"
	warm $((PORT + 1))
	settle $((PORT + 1))
	before=$(hot_counts $((PORT + 1)))
	pg_before=$(pg_counts "$db")
	redis_before=$(redis_counts)
	t0=$(cpu_ticks "${server_pids[0]}")
	measure "r$round-pg" $((PORT + 1))
	settle $((PORT + 1))
	after=$(hot_counts $((PORT + 1)))
	cpu_rows+=("$(cpu_row "$round: one instance, PostgreSQL + Redis" "$(field "$(result "r$round-pg")" requests)" 0 $(($(cpu_ticks "${server_pids[0]}") - t0)))")
	pg_after=$(pg_counts "$db")
	redis_after=$(redis_counts)
	stop_servers
	r_pg=$(result "r$round-pg")
	rt_rows+=("$(rt_row "$round: one instance" "$(field "$r_pg" requests)" "$before" "$after")")
	load_rows+=("$(load_row "$round: one instance" "$(field "$r_pg" requests)" "$pg_before" "$pg_after" "$redis_before" "$redis_after")")

	# 3. two instances, one database and prefix, loaded together
	fresh_store "r${round}_two"
	pa=$((PORT + 2)) pb=$((PORT + 3))
	cfg_a=$(shared_config "r$round-a" "$pa" "$db" "$prefix")
	cfg_b=$(shared_config "r$round-b" "$pb" "$db" "$prefix")
	serve "r$round-a" "$pa" "$cfg_a" # the first one runs the migrations
	serve "r$round-b" "$pb" "$cfg_b"
	warm "$pa" 0 "$half_threads" "$half_conns" &
	w1=$!
	warm "$pb" "$half_threads" "$half_threads" "$half_conns" &
	w2=$!
	wait "$w1"
	wait "$w2"
	settle "$pa" "$pb"
	before_a=$(hot_counts "$pa")
	before_b=$(hot_counts "$pb")
	pg_before=$(pg_counts "$db")
	redis_before=$(redis_counts)
	ta=$(cpu_ticks "${server_pids[0]}")
	tb=$(cpu_ticks "${server_pids[1]}")
	measure "r$round-a" "$pa" 0 "$half_threads" "$half_conns" &
	w1=$!
	measure "r$round-b" "$pb" "$half_threads" "$half_threads" "$half_conns" &
	w2=$!
	wait "$w1"
	wait "$w2"
	stopped=$(date +%s.%N)
	caught_up "$pa" "$pb"
	settled=$(awk -v a="$stopped" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
	settle "$pa" "$pb"
	after_a=$(hot_counts "$pa")
	after_b=$(hot_counts "$pb")
	ta=$(($(cpu_ticks "${server_pids[0]}") - ta))
	tb=$(($(cpu_ticks "${server_pids[1]}") - tb))
	pg_after=$(pg_counts "$db")
	redis_after=$(redis_counts)
	stream_bytes=$(redis MEMORY USAGE "$prefix:events" SAMPLES 0)
	stream_len=$(redis XLEN "$prefix:events")
	stream_rows+=("| $round: two instances | $stream_len | $stream_bytes | $(awk -v b="$stream_bytes" -v n="$stream_len" 'BEGIN { printf "%.0f", (n > 0 ? b / n : 0) }') |")
	stop_servers
	r_a=$(result "r$round-a")
	r_b=$(result "r$round-b")
	sum_rps=$(awk -v a="$(field "$r_a" rps)" -v b="$(field "$r_b" rps)" 'BEGIN { printf "%.1f", a + b }')
	sum_result="requests=$(($(field "$r_a" requests) + $(field "$r_b" requests))) rps=$sum_rps p50_us=0 p99_us=0 non2xx=$(($(field "$r_a" non2xx) + $(field "$r_b" non2xx))) connect_errors=$(($(errors_of "$r_a") + $(errors_of "$r_b"))) read_errors=0 write_errors=0 timeouts=0"

	rows+=("$(row "$round: one instance, embedded SQLite" "$r_sqlite" "$base_rps")")
	rows+=("$(row "$round: one instance, PostgreSQL + Redis" "$r_pg" "$base_rps")")
	rows+=("$(row "$round: two instances together (sum)" "$sum_result" "$base_rps" | sed 's/| 0.00 | 0.00 |/| — | — |/')")
	rows+=("$(row "$round: … instance A (wrk -t$half_threads -c$half_conns)" "$r_a" "$base_rps")")
	rows+=("$(row "$round: … instance B (wrk -t$half_threads -c$half_conns)" "$r_b" "$base_rps")")
	rt_rows+=("$(rt_row "$round: two instances, A" "$(field "$r_a" requests)" "$before_a" "$after_a")")
	rt_rows+=("$(rt_row "$round: two instances, B" "$(field "$r_b" requests)" "$before_b" "$after_b")")
	cpu_rows+=("$(cpu_row "$round: two instances, A" "$(field "$r_a" requests)" $(($(cut -d' ' -f2 <<<"$after_a") - $(cut -d' ' -f2 <<<"$before_a"))) "$ta")")
	cpu_rows+=("$(cpu_row "$round: two instances, B" "$(field "$r_b" requests)" $(($(cut -d' ' -f2 <<<"$after_b") - $(cut -d' ' -f2 <<<"$before_b"))) "$tb")")
	settle_notes+=("round $round: each instance had replayed all the other had published ${settled} s after the load stopped (polled every 0.2 s)")
	load_rows+=("$(load_row "$round: two instances (both)" $(($(field "$r_a" requests) + $(field "$r_b" requests))) "$pg_before" "$pg_after" "$redis_before" "$redis_after")")
	names+=("r$round-sqlite" "r$round-pg" "r$round-a" "r$round-b")
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

{
	echo "## Several instances, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo
	echo "- machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(awk '/MemTotal/ { printf "%.1f GiB", $2/1048576 }' /proc/meminfo) RAM"
	echo "- $(go version), $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2), PostgreSQL $(pg 'SHOW server_version' | cut -d' ' -f1), Redis $(redis INFO server | sed -n 's/^redis_version:\([^[:space:]]*\).*/\1/p')"
	echo "- load average (1, 5, 15 min) before: $load_before; after: $load_after (other jobs on the machine add noise)"
	echo "- load: wrk -t$THREADS -c$CONNS -d$DURATION --latency --timeout 5s -s scripts/bench-multi.lua after a $WARMUP warm-up; two instances: two such wrk at once, -t$half_threads -c$half_conns each; wrk, the instances, PostgreSQL and Redis share the $(nproc) CPUs"
	echo
	echo "| round: setup | requests | requests/s | p50 ms | p99 ms | ratio to SQLite | non-2xx | socket errors |"
	echo "|---|---|---|---|---|---|---|---|"
	printf '%s\n' "${rows[@]}"
	echo
	echo "Redis round trips over the measured run (counter deltas of GET /readyz, components.redis.detail):"
	echo
	echo "| round: instance | events answered | published | applied (peers' events replayed) | round trips | per event published + applied | per event answered | backlog / failed / dropped at the end |"
	echo "|---|---|---|---|---|---|---|---|"
	printf '%s\n' "${rt_rows[@]}"
	echo
	echo "Load on PostgreSQL and Redis per event answered, over the measured run (PostgreSQL: pg_stat_database of the pass's database; Redis: INFO of the whole server, so other users of it add to these):"
	echo
	echo "| round: setup | events answered | PostgreSQL transactions | events per transaction | rows written per event | XADD per event | XREAD per event | Redis commands per event | Redis bytes in per event | Redis bytes out per event |"
	echo "|---|---|---|---|---|---|---|---|---|---|"
	printf '%s\n' "${load_rows[@]}"
	echo
	echo "CPU time of each instance (utime + stime from /proc) from the start of the measured run until the counters stopped moving (a few seconds after each had replayed the other's events):"
	echo
	echo "| round: instance | events answered | peers' events replayed | CPU s | CPU µs per event answered | CPU µs per event answered or replayed |"
	echo "|---|---|---|---|---|---|"
	printf '%s\n' "${cpu_rows[@]}"
	echo
	printf -- '- %s\n' "${settle_notes[@]}"
	echo
	echo "The stream at the end of the two-instance pass (MEMORY USAGE $prefix:events SAMPLES 0; XLEN):"
	echo
	echo "| round | entries | bytes | bytes per entry |"
	echo "|---|---|---|---|"
	printf '%s\n' "${stream_rows[@]}"
	echo
	echo "Raw wrk output:"
	for name in "${names[@]}"; do
		echo
		echo "### $name"
		echo
		echo '```'
		grep -v '^RESULT' "$work/wrk-$name.txt"
		echo '```'
	done
} | tee "$out"
echo "saved to $out" >&2
