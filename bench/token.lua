-- wrk script: the checkout page's order-token fetch, by distinct users.
--   wrk -t2 -c128 -d10s -s bench/token.lua http://127.0.0.1:8088
local next_id = 0
function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
end
local n = 0
local path = os.getenv("FG_PATH") or "/api/activities/big/token"
request = function()
  n = n + 1
  return wrk.format("GET", path, {["X-User-Id"] = "tok" .. tid .. "-" .. n, ["Accept"] = "application/json"})
end
