-- wrk script: the crowd after the last unit. Every request is a purchase
-- attempt on a sold-out activity, answered from the gateway's memory.
--   wrk -t2 -c64 -d10s -s bench/soldout.lua http://127.0.0.1:8080
local counter = 0
wrk.method = "POST"
wrk.path = "/bench/buy/soldout"
wrk.headers["Accept"] = "application/json"

request = function()
  counter = counter + 1
  wrk.headers["X-User-Id"] = "late-" .. counter
  return wrk.format(nil, nil, wrk.headers)
end
