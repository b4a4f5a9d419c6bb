-- unhold.lua: step 2 of Release, on the user's home shard h: frees the
-- allowance and drops the attempt record, once (only if the held mark
-- existed).
-- KEYS: the nine keys of shard h. ARGV: version, id (n:user), user.
-- Reply: 1 freed  0 no held mark  5 not loaded  6 stale version
local v = redis.call('HGET', KEYS[1], 'v')
if not v then return 5 end
if v ~= ARGV[1] then return 6 end
if redis.call('HDEL', KEYS[5], ARGV[2]) == 0 then return 0 end
if redis.call('HINCRBY', KEYS[3], ARGV[3], -1) <= 0 then
  redis.call('HDEL', KEYS[3], ARGV[3])
end
local a = redis.call('HGET', KEYS[8], ARGV[2])
if a then redis.call('HDEL', KEYS[8], ARGV[2], a) end
return 1
