-- counts.lua: Counts' read of shard i, in one step so that a top-up is
-- never seen in the stock without its record (or the other way round).
-- KEYS: shard i's state hash (the other three are not read).
-- Reply: {version (0 when not loaded), units left, units topped up}
local st = redis.call('HMGET', KEYS[1], 'v', 's', 't')
return {tonumber(st[1]) or 0, tonumber(st[2]) or 0, tonumber(st[3]) or 0}
