-- load.lua: Warm's load of shard i. Versions only move forward: a slower,
-- older Warm never overwrites a newer one.
-- KEYS: shard i's state hash, pend, fence, orders, due.
-- ARGV: version, per_user, shards, units, channel, msg.
-- The state hash starts with v (version), pu (per-user limit), n (shards),
-- s (units left), f (live fences) and t (units topped up since this load,
-- see topup.lua and counts.lua); a (a unit was admitted in this
-- version) joins at the first admission,
-- ledger records (u<user>) and order records (o<id>) join it as the sale
-- goes. The orders Stream is not reset: it holds orders already admitted.
-- Reply: 1 loaded  0 a newer version is already loaded
local v = redis.call('HGET', KEYS[1], 'v')
if v and tonumber(v) > tonumber(ARGV[1]) then return 0 end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
if KEYS[5] then redis.call('DEL', KEYS[5]) end
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'pu', ARGV[2], 'n', ARGV[3], 's', ARGV[4], 'f', 0, 't', 0)
if tonumber(ARGV[4]) > 0 then redis.call('PUBLISH', ARGV[5], ARGV[6]) end
return 1
