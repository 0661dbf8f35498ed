-- wrk script of scripts/bench-http.sh: POST /v1/events with a shop's mix of
-- login events. Every request changes the login and, for the attack share,
-- the source address, so the engine sees many sources, not one:
--   55% login.succeeded from 5,000 owners, each from its own address and device
--   15% login.failed (bad_password) by those owners
--   30% login.failed for unknown accounts, a new combo login and address each time
-- Environment: ATOGUARD_API_KEY (the bearer secret), WRK_THINK_MS (optional
-- pause before each request of a connection, to hold a load below saturation).
-- done() prints one RESULT line that the shell script parses.

local key = os.getenv("ATOGUARD_API_KEY") or "bench"
local think = tonumber(os.getenv("WRK_THINK_MS") or "0") or 0
local nthreads = 0

local agents = {
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
  "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
}

function setup(thread)
  thread:set("tid", nthreads)
  nthreads = nthreads + 1
end

local n = 0

function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. key
end

if think > 0 then
  function delay() return think end
end

local function owner_context(o)
  return string.format(
    '{"ip":"198.18.%d.%d","user_agent":"%s","accept_language":"ja-JP,ja;q=0.9","device_id":"d-%06x",'
      .. '"client_fingerprint":"t13d1516h2_8daaf6152771_b186095e22b6",'
      .. '"headers":{"sec-ch-ua":"\\"Chromium\\";v=\\"131\\"","sec-ch-ua-platform":"\\"Windows\\""}}',
    math.floor(o / 250) % 256, o % 250 + 1, agents[o % #agents + 1], o * 7919)
end

function request()
  n = n + 1
  local t = tid or 0
  local now = os.date("!%Y-%m-%dT%H:%M:%SZ")
  local k = n % 20
  local body
  if k < 14 then
    local o = (n * 7 + t * 13) % 5000
    local typ, props, pwd = "login.succeeded", "", string.format("%040X", o)
    if k >= 11 then
      typ, props, pwd = "login.failed", ',"properties":{"reason":"bad_password"}', string.format("%040X", o + 1048576)
    end
    body = string.format(
      '{"type":"%s","occurred_at":"%s","request_id":"r-%d-%d","login":"Owner.%d@Example.jp",'
        .. '"user":{"id":"u-%d","email":"owner.%d@example.jp"},"session_id":"s-%d-%d","context":%s,'
        .. '"credential":{"password_sha1":"%s"}%s}',
      typ, now, t, n, o, o, o, t, n, owner_context(o), pwd, props)
  else
    -- 62,500 addresses per thread, in 185.(100+thread).0.0/16
    local a = n % 62500
    body = string.format(
      '{"type":"login.failed","occurred_at":"%s","request_id":"r-%d-%d","login":"combo%d-%d@mail.example",'
        .. '"context":{"ip":"185.%d.%d.%d","user_agent":"%s","accept_language":"en-US,en;q=0.9"},'
        .. '"credential":{"password_sha1":"%040X"},"properties":{"reason":"unknown_account"}}',
      now, t, n, t, n, 100 + t % 100, math.floor(a / 250), a % 250 + 1, agents[1], n)
  end
  return wrk.format(nil, nil, nil, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d rps=%.1f p50_us=%d p90_us=%d p99_us=%d max_us=%d "
      .. "non2xx=%d connect_errors=%d read_errors=%d write_errors=%d timeouts=%d\n",
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.status, e.connect, e.read, e.write, e.timeout))
end
