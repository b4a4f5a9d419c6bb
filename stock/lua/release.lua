-- release.lua: step 1 of Release of a borrowed unit, on the shard t that
-- holds it (a unit on the home shard is released by unhold.lua alone).
-- KEYS: shard t's state hash, pend, fence, orders.
-- ARGV: version, id (n:user), channel, msg.
-- The order record becomes a tombstone ('0') instead of being deleted, so
-- a late borrow retry of the same id can never take a second unit.
-- Reply: 1 unit returned  0 no such live order  5 not loaded  6 stale
--        9 frozen (a Warm's check, see claim.lua): retry
local o = 'o' .. ARGV[2]
local c = redis.call('HMGET', KEYS[1], 'v', o)
if not c[1] then return 5 end
if c[1] ~= ARGV[1] then
  if c[1] == '-' .. ARGV[1] then return 9 end -- frozen by a Warm's check: retry
  return 6
end
if c[2] ~= '1' then return 0 end
redis.call('HSET', KEYS[1], o, '0')
redis.call('HINCRBY', KEYS[1], 's', 1)
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1
