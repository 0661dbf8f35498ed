-- wrk script of scripts/bench-multi.sh: the requests of scripts/bench-http.lua
-- (same event mix and bodies), with the thread numbers starting at
-- WRK_TID_BASE (default 0), so that two wrk processes loading two instances
-- at once send different attack addresses, combo logins and request ids
-- instead of the same stream twice. With WRK_TID_BASE=0 the requests are
-- those of scripts/bench-http.lua. Run from the repository's root.

dofile("scripts/bench-http.lua")

local base = tonumber(os.getenv("WRK_TID_BASE") or "0") or 0
local started = 0

function setup(thread)
  thread:set("tid", base + started)
  started = started + 1
end
