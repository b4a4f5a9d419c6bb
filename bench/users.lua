-- Shared by the scenarios that replay pre-minted users (storm, soldout,
-- repeat, bots): bench/harness writes FG_USERS, one "user token" a line
-- ("-" for no token), and each wrk thread takes every n-th line, so no
-- two threads send the same user. FG_PATH is the request path and
-- FG_CYCLE=1 replays the list (repeat buyers) instead of stopping at its
-- end.
fg_threads = {}
local next_id = 0

function setup(thread)
  thread:set("tid", next_id)
  thread:set("nthreads", tonumber(os.getenv("FG_THREADS") or "1"))
  next_id = next_id + 1
  table.insert(fg_threads, thread)
end

local users, tokens, reqs, i = {}, {}, {}, 0
local path = os.getenv("FG_PATH")
local cycle = os.getenv("FG_CYCLE") == "1"
local prefix

function init(args)
  local file = os.getenv("FG_USERS")
  if not file then error("FG_USERS is not set") end
  local n = 0
  for line in io.lines(file) do
    if n % nthreads == tid then
      local sp = line:find(" ", 1, true)
      users[#users + 1] = line:sub(1, sp - 1)
      tokens[#tokens + 1] = line:sub(sp + 1)
    end
    n = n + 1
  end
  prefix = "POST " .. path .. " HTTP/1.1\r\nHost: " .. wrk.headers["Host"] ..
    "\r\nAccept: application/json\r\nX-User-Id: "
end

-- Each request is one string concatenation, kept for the next cycle.
-- wrk.format built a table and formatted every header per request: wrk,
-- on the same two cores as the gateway, spent 19-23 us of CPU per request
-- with it against 12.5-15 us now (3 interleaved 5 s runs of the sold-out
-- chain), more than the gateway's own 14-19 us per answer.
request = function()
  i = i + 1
  if i > #users then
    if not cycle then
      exhausted = true
      wrk.thread:stop()
    end
    i = 1
  end
  local r = reqs[i]
  if r then return r end
  if tokens[i] ~= "-" then
    r = prefix .. users[i] .. "\r\nX-Order-Token: " .. tokens[i] .. "\r\n\r\n"
  else
    r = prefix .. users[i] .. "\r\n\r\n"
  end
  if cycle then reqs[i] = r end
  return r
end
