-- load.lua: Warm's load of shard i. Versions only move forward: a slower,
-- older Warm never overwrites a newer one (loaded, or frozen at -version),
-- nor the same version (no two Warms are given one version, and a resumed
-- load skips shards at it).
-- KEYS: shard i's state hash, pend, fence, orders, due.
-- ARGV: version, per_user, shards, units, channel, msg, force ('1': reset
--       whatever the shard holds; '0': keep a shard that sold).
-- The state hash starts with v (version), pu (per-user limit), n (shards),
-- s (units left), f (live fences) and t (units topped up since this load,
-- see topup.lua and counts.lua); a (a unit was admitted in this
-- version) joins at the first admission,
-- ledger records (u<user>) and order records (o<id>) join it as the sale
-- goes. The orders Stream is not reset: it holds orders already admitted.
-- Without force, a shard that sold in the version it holds (a, or a
-- pending mark: what Warm's inspect calls sold) is kept: Warm only
-- replaces a sale it found unsold under its lease, so such a shard was
-- loaded and sold by another Warm after this one lost its lease.
-- Reply: 1 loaded  0 this or a newer version is already loaded
--        2 kept: it sold (not force)
local c = redis.call('HMGET', KEYS[1], 'v', 'a')
if c[1] and math.abs(tonumber(c[1])) >= tonumber(ARGV[1]) then return 0 end
if ARGV[7] ~= '1' and c[1] and (c[2] or redis.call('ZCARD', KEYS[2]) > 0) then return 2 end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
if KEYS[5] then redis.call('DEL', KEYS[5]) end
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'pu', ARGV[2], 'n', ARGV[3], 's', ARGV[4], 'f', 0, 't', 0)
if tonumber(ARGV[4]) > 0 then redis.call('PUBLISH', ARGV[5], ARGV[6]) end
return 1
