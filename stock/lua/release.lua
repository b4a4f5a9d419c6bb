-- release.lua: step 1 of Release, on the shard t that holds the unit.
-- KEYS: the nine keys of shard t. ARGV: version, id (n:user), channel, msg.
-- The order record becomes a tombstone ('0') instead of being deleted, so
-- a late borrow retry of the same id can never take a second unit.
-- Reply: 1 unit returned  0 no such live order  5 not loaded  6 stale
local v = redis.call('HGET', KEYS[1], 'v')
if not v then return 5 end
if v ~= ARGV[1] then return 6 end
if redis.call('HGET', KEYS[7], ARGV[2]) ~= '1' then return 0 end
redis.call('HSET', KEYS[7], ARGV[2], '0')
redis.call('INCR', KEYS[2])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1
