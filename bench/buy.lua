-- wrk script: purchase attempts by distinct users, each a stock decision.
-- Users are "t<thread>-<n>", so threads never collide.
--   wrk -t2 -c64 -d10s -s bench/buy.lua http://127.0.0.1:8080
local thread_id = 0
local threads = {}

function setup(thread)
  thread:set("tid", thread_id)
  thread_id = thread_id + 1
end

local n = 0
wrk.method = "POST"
wrk.headers["Accept"] = "application/json"

request = function()
  n = n + 1
  wrk.headers["X-User-Id"] = "t" .. tid .. "-" .. n
  return wrk.format("POST", "/bench/buy/big", wrk.headers)
end
