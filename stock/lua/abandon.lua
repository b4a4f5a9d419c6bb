-- abandon.lua: settles, on the user's home shard h, a Take whose outcome
-- never reached anyone (its reply was lost after SettleTimeout).
-- KEYS: the nine keys of shard h. ARGV: version, user, attempt, keep ms.
-- If take.lua has not run for the attempt yet, it is fenced: take.lua will
-- find the fence and do nothing. Fences older than keep ms are pruned.
-- Otherwise the reply says where the attempt's unit is, and Go gives it
-- back the way Release does (release.lua on t, unhold.lua on h).
-- Reply: {0} fenced or nothing to undo  {1, id, t} held on shard t
--        {3, id} still pending (resolve it, then call again)
--        {5} not loaded  {6} stale version
local v = redis.call('HGET', KEYS[1], 'v')
if not v then return {5} end
if v ~= ARGV[1] then return {6} end
local id = redis.call('HGET', KEYS[8], ARGV[3])
if not id then
  local t = redis.call('TIME')
  local now = t[1] * 1000 + math.floor(t[2] / 1000)
  redis.call('ZREMRANGEBYSCORE', KEYS[9], '-inf', now - tonumber(ARGV[4]))
  redis.call('ZADD', KEYS[9], now, ARGV[3])
  return {0}
end
local t = redis.call('HGET', KEYS[5], id)
if t then return {1, id, tonumber(t)} end
if redis.call('ZSCORE', KEYS[6], id) then return {3, id} end
redis.call('HDEL', KEYS[8], ARGV[3], id)
return {0}
