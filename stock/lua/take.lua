-- take.lua: step 1 of Take, on the user's home shard h.
-- KEYS: the nine keys of shard h (cfg stock count seq held pend ord att fence).
-- ARGV: version, user, h, attempt (the Take's random id).
-- Reply: code + 8 * n, n being the user's purchase number in this version.
--   1 admitted here    2 limit reached    3 borrow: h is empty, a pending
--   mark (n:user) now holds the allowance  5 not loaded  6 stale version
--   7 fenced: abandon.lua gave this attempt up before it ran; nothing done
-- An attempt that takes the allowance is recorded both ways in att
-- (attempt -> n:user, n:user -> attempt) so that abandon.lua can undo it.
local cfg = redis.call('HMGET', KEYS[1], 'v', 'pu')
if not cfg[1] then return 5 end
if cfg[1] ~= ARGV[1] then return 6 end
if redis.call('ZREM', KEYS[9], ARGV[4]) == 1 then return 7 end
local user = ARGV[2]
if tonumber(redis.call('HGET', KEYS[3], user) or '0') >= tonumber(cfg[2]) then
  return 2
end
local n = redis.call('HINCRBY', KEYS[4], user, 1)
redis.call('HINCRBY', KEYS[3], user, 1)
local id = n .. ':' .. user
redis.call('HSET', KEYS[8], ARGV[4], id, id, ARGV[4])
if tonumber(redis.call('GET', KEYS[2]) or '0') > 0 then
  redis.call('DECR', KEYS[2])
  redis.call('HSET', KEYS[7], id, '1')
  redis.call('HSET', KEYS[5], id, ARGV[3])
  return 1 + 8 * n
end
local t = redis.call('TIME')
redis.call('ZADD', KEYS[6], t[1] * 1000 + math.floor(t[2] / 1000), id)
return 3 + 8 * n
