-- borrow.lua: step 2 of Take, on another shard t, for a pending (user, n).
-- KEYS: shard t's state hash, pend, fence, orders.
-- ARGV: version, id (n:user) [, order: async mode appends it to t's
-- orders Stream when this call takes the unit].
-- The order record o<id> on t is '1' while the unit is taken, '0' once
-- released or fenced (a tombstone: the id can never take a second unit).
-- Reply: 1 admitted (now or by an earlier try of the same id)
--        4 empty  5 not loaded  6 stale version  7 fenced by Reconcile
local o = 'o' .. ARGV[2]
local c = redis.call('HMGET', KEYS[1], 'v', 's', o)
if not c[1] then return 5 end
if c[1] ~= ARGV[1] then return 6 end
if c[3] == '1' then return 1 end
if c[3] then return 7 end
local s = tonumber(c[2])
if s > 0 then
  redis.call('HSET', KEYS[1], 's', string.format('%d', s - 1), o, '1', 'a', '1') -- %d: see take.lua
  if ARGV[3] then
    redis.call('XADD', KEYS[4], '*', ARGV[2], ARGV[3])
  end
  return 1
end
return 4
