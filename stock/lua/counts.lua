-- counts.lua: Counts' read of shard i, in one step so that a top-up is
-- never seen in the stock without its record (or the other way round).
-- KEYS: the nine keys of shard i.
-- Reply: {version (0 when not loaded), units left, units topped up}
local cfg = redis.call('HMGET', KEYS[1], 'v', 't')
local left = redis.call('GET', KEYS[2])
return {tonumber(cfg[1]) or 0, tonumber(left) or 0, tonumber(cfg[2]) or 0}
