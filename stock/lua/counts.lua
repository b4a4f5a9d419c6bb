-- counts.lua: Counts' read of shard i, in one step so that a top-up is
-- never seen in the stock without its record (or the other way round).
-- KEYS: shard i's state hash, pend, fence, orders, due (KEYS[2..4] are
-- not read).
-- Reply: {version (0 when not loaded), units left, units topped up,
--         units held for payment (due and release marks), payments
--         confirmed, units released unpaid}
local st = redis.call('HMGET', KEYS[1], 'v', 's', 't', 'pd', 'ru')
return {tonumber(st[1]) or 0, tonumber(st[2]) or 0, tonumber(st[3]) or 0,
  redis.call('ZCARD', KEYS[5]), tonumber(st[4]) or 0, tonumber(st[5]) or 0}
