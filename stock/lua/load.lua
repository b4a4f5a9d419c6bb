-- load.lua: Warm's load of shard i. Versions only move forward: a slower,
-- older Warm never overwrites a newer one.
-- KEYS: the nine keys of shard i.
-- ARGV: version, per_user, shards, units, channel, msg.
-- Reply: 1 loaded  0 a newer version is already loaded
local v = redis.call('HGET', KEYS[1], 'v')
if v and tonumber(v) > tonumber(ARGV[1]) then return 0 end
redis.call('DEL', KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9])
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'pu', ARGV[2], 'n', ARGV[3], 't', 0)
redis.call('SET', KEYS[2], ARGV[4])
if tonumber(ARGV[4]) > 0 then redis.call('PUBLISH', ARGV[5], ARGV[6]) end
return 1
