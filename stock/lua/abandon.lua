-- abandon.lua: settles, on the user's home shard h, a Take whose outcome
-- never reached anyone (its reply was lost after SettleTimeout).
-- KEYS: shard h's state hash, pend, fence, orders.
-- ARGV: version, user, attempt (hex, as newAttempt makes it: safe inside
-- a Lua pattern), keep ms.
-- If take.lua has not run for the attempt yet (no entry of the user's
-- record carries it), it is fenced: take.lua will find the fence and do
-- nothing. Fences older than keep ms are pruned; f in the state hash
-- counts the live ones, so take.lua looks at the fence set only when
-- there is one. Otherwise the reply says where the attempt's unit is, and
-- Go gives it back the way Release does.
-- Reply: {0} fenced or nothing to undo  {1, id, t} held on shard t
--        {3, id} still pending (resolve it, then call again)
--        {5} not loaded  {6} stale version  {9} frozen (a Warm's
--        check, see claim.lua): retry later
local c = redis.call('HMGET', KEYS[1], 'v', 'u' .. ARGV[2])
if not c[1] then return {5} end
if c[1] ~= ARGV[1] then
  if c[1] == '-' .. ARGV[1] then return {9} end -- frozen by a Warm's check: retry
  return {6}
end
local k, t
if c[2] then k, t = string.match(c[2], ';(%d+),' .. ARGV[3] .. ',(%w+)') end
if not k then
  local now = redis.call('TIME')
  now = now[1] * 1000 + math.floor(now[2] / 1000)
  local d = redis.call('ZADD', KEYS[3], now, ARGV[3])
    - redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - tonumber(ARGV[4]))
  if d ~= 0 then redis.call('HINCRBY', KEYS[1], 'f', d) end
  return {0}
end
local id = k .. ':' .. ARGV[2]
if t ~= 'p' then return {1, id, tonumber(t)} end
if redis.call('ZSCORE', KEYS[2], id) then return {3, id} end
return {0}
