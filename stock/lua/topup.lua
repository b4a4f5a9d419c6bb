-- topup.lua: TopUp's share for shard i. The units are recorded in the
-- shard's cfg ('t') in the same step as they are added, so Counts' total
-- (loaded + topped up) always matches the stock it sees.
-- KEYS: the nine keys of shard i. ARGV: version, units, channel, msg.
-- Reply: the shard's new stock (>= 1), or -5 not loaded, -6 stale version.
local v = redis.call('HGET', KEYS[1], 'v')
if not v then return -5 end
if v ~= ARGV[1] then return -6 end
local n = redis.call('INCRBY', KEYS[2], ARGV[2])
redis.call('HINCRBY', KEYS[1], 't', ARGV[2])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return n
