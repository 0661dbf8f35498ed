-- wrk script of scripts/bench-batch.sh: the events of scripts/bench-http.lua
-- (same mix and bodies, a new request id, session and, for the attack
-- share, a new login and address for every event), sent WRK_BATCH at a
-- time. WRK_BATCH=1 (the default) posts one event a request to
-- /v1/events, as scripts/bench-http.lua does; WRK_BATCH=N > 1 posts
-- {"events":[...N events...]} to /v1/events:batch, every event of every
-- batch built anew, so the guard never sees the same event twice.
-- WRK_TID_BASE numbers the threads from that base (default 0), so that the
-- passes of one run send different attack addresses and request ids.
-- Environment: ATOGUARD_API_KEY, WRK_BATCH, WRK_TID_BASE. Run from the
-- repository's root. done() prints one RESULT line (requests, and events =
-- requests x WRK_BATCH) that the shell script parses.

dofile("scripts/bench-multi.lua") -- bench-http.lua, threads from WRK_TID_BASE

local batch = tonumber(os.getenv("WRK_BATCH") or "1") or 1

-- one_event returns the body scripts/bench-http.lua would send next.
local single = request
local function one_event()
  local format, body = wrk.format, nil
  wrk.format = function(_, _, _, b) body = b; return "" end
  single()
  wrk.format = format
  return body
end

if batch > 1 then
  function request()
    local evs = {}
    for i = 1, batch do
      evs[i] = one_event()
    end
    return wrk.format(nil, "/v1/events:batch", nil, '{"events":[' .. table.concat(evs, ",") .. ']}')
  end
end

local single_done = done

function done(summary, latency, requests)
  single_done(summary, latency, requests)
  io.write(string.format("EVENTS batch=%d events=%d events_per_s=%.1f\n",
    batch, summary.requests * batch, summary.requests * batch / (summary.duration / 1e6)))
end
