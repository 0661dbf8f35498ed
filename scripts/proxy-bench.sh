#!/usr/bin/env bash
# Overhead of `atoguard proxy` against a bare httputil.ReverseProxy to the
# same shop, in one run (docs/benchmarks.md, "The proxy"). Needs wrk.
#   scripts/proxy-bench.sh [SECONDS] [BEFORE]
# BEFORE, a git revision, adds `atoguard proxy` as built at that revision
# (before/after in the same run). Targets alternate within each row group.
set -euo pipefail
cd "$(dirname "$0")/.."
# The approved toolchain (README).
export GOTOOLCHAIN=go1.27.3
secs=${1:-10}
before=${2:-}
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

go build -o "$tmp/atoguard" ./cmd/atoguard
go build -o "$tmp/shop" ./internal/proxy/testdata/plainshop
go build -o "$tmp/bare" ./scripts/proxybench
targets=("bare 19001" "atoguard 19002" "atoguard-normal 19004")
if [ -n "$before" ]; then
  mkdir "$tmp/src-before"
  git archive "$before" | tar -x -C "$tmp/src-before"
  (cd "$tmp/src-before" && go build -o "$tmp/atoguard-before" ./cmd/atoguard)
  targets+=("before 19003")
fi

# One configuration for all: the in-process guard on its defaults
# (SQLite, synchronous FULL: each decision is fsynced before the answer),
# each its own data directory; atoguard-normal's guard runs synchronous
# NORMAL (WAL: a decision is durable at the next checkpoint, safe against
# a crash of the process, not of the machine).
proxyconf() {
  cat <<YAML
trusted_proxies: [127.0.0.1]
guard: {data: $tmp/guard-$1${2:+, config: $2}}
logout: {method: POST, path: /logout}
routes:
  login:
    preset: form-login
    success: {status: [303], cookie: PLAINSID}
    failure: {status: 200, body: "login failed"}
YAML
}
proxyconf after >"$tmp/proxy.yaml"
echo "synchronous: NORMAL" >"$tmp/guard-normal.yaml"
proxyconf normal "$tmp/guard-normal.yaml" >"$tmp/proxy-normal.yaml"
proxyconf before >"$tmp/proxy-before.yaml"
# Every login from its own address, as a browser: the guard assesses each
# (login.attempt, then login.failed) rather than refusing one noisy source.
cat >"$tmp/login.lua" <<'LUA'
local n = 0
request = function()
  n = n + 1
  local ip = string.format("10.%d.%d.%d", math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256)
  return wrk.format("POST", "/login", {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36",
    ["Accept-Language"] = "ja-JP", ["Accept"] = "text/html",
    ["X-Forwarded-For"] = ip }, "email=user" .. (n % 50) .. "@plain.test&password=wrong")
end
LUA

"$tmp/shop" -listen 127.0.0.1:19000 >/dev/null & pids+=($!)
"$tmp/bare" -listen 127.0.0.1:19001 -upstream http://127.0.0.1:19000 2>"$tmp/bare.log" & pids+=($!)
"$tmp/atoguard" proxy --config "$tmp/proxy.yaml" --upstream http://127.0.0.1:19000 --listen 127.0.0.1:19002 >/dev/null 2>"$tmp/proxy.log" & pids+=($!)
"$tmp/atoguard" proxy --config "$tmp/proxy-normal.yaml" --upstream http://127.0.0.1:19000 --listen 127.0.0.1:19004 >/dev/null 2>"$tmp/proxy-normal.log" & pids+=($!)
ports="19000 19001 19002 19004"
if [ -n "$before" ]; then
  "$tmp/atoguard-before" proxy --config "$tmp/proxy-before.yaml" --upstream http://127.0.0.1:19000 --listen 127.0.0.1:19003 >/dev/null 2>"$tmp/proxy-before.log" & pids+=($!)
  ports+=" 19003"
fi
for port in $ports; do
  for _ in $(seq 100); do curl -fs -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
done

summary() { # label, wrk output
  local rps p50 p99
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$2")
  p50=$(awk '$1=="50%" {print $2}' <<<"$2")
  p99=$(awk '$1=="99%" {print $2}' <<<"$2")
  printf '%-46s %10s req/s   p50 %8s   p99 %8s\n' "$1" "$rps" "$p50" "$p99"
}
echo "wrk, ${secs}s each, $(nproc) cores, $(go env GOVERSION)${before:+, before = $before}"
for round in 1 2 3 4; do
  for target in "${targets[@]}"; do
    set -- $target
    out=$(wrk -t2 -c32 -d"${secs}s" --latency "http://127.0.0.1:$2/")
    summary "GET / (not guarded), 32 conns: $1" "$out"
  done
done
for target in "${targets[@]}"; do
  set -- $target
  out=$(wrk -t1 -c1 -d"${secs}s" --latency -s "$tmp/login.lua" "http://127.0.0.1:$2/")
  summary "POST /login, 1 conn (sequential): $1" "$out"
done
bare_max=0
for target in "${targets[@]}"; do
  set -- $target
  out=$(wrk -t2 -c16 -d"${secs}s" --latency -s "$tmp/login.lua" "http://127.0.0.1:$2/")
  summary "POST /login, 16 conns: $1" "$out"
  if [ "$1" = bare ]; then bare_max=$(awk '/Requests\/sec/ {printf "%d", $2}' <<<"$out"); fi
done
# At a fixed rate (open loop, latency from when each login was due):
# rates the guard on this machine keeps up with, then half the bare
# proxy's rate above, as the issue asks (last: a proxy it overloads takes
# a while to drain). A pause lets each settle.
for rate in 250 1000 $((bare_max / 2)); do
  for target in "${targets[@]}"; do
    set -- $target
    sleep 3
    printf '%-46s ' "POST /login at ${rate}/s: $1"
    "$tmp/bare" -load "http://127.0.0.1:$2" -rate "$rate" -duration "${secs}s"
  done
done
