-- unhold.lua: the last step of Release, on the user's home shard h: drops
-- entry n from the user's record, which frees the allowance, once. When
-- the unit lives on h itself (t = h), it is given back here too, in the
-- same step; a borrowed unit was given back on its shard by release.lua.
-- KEYS: shard h's state hash, pend, fence, orders, due (the entry's
-- pay_within due mark, if any, goes with it).
-- ARGV: version, n, user, h, channel, msg.
-- Reply: 1 freed  3 freed and the unit is back on h  0 no held entry
--        5 not loaded  6 stale version  9 frozen (a Warm's check): retry
local u = 'u' .. ARGV[3]
local c = redis.call('HMGET', KEYS[1], 'v', u)
if not c[1] then return 5 end
if c[1] ~= ARGV[1] then
  if c[1] == '-' .. ARGV[1] then return 9 end -- frozen by a Warm's check: retry
  return 6
end
if not c[2] then return 0 end
local _, t = string.match(c[2], ';' .. ARGV[2] .. ',(%w+),(%w+)')
if not t or t == 'p' then return 0 end
local rec = string.gsub(c[2], ';' .. ARGV[2] .. ',%w+,%w+', '')
redis.call('HSET', KEYS[1], u, rec)
if KEYS[5] then redis.call('ZREM', KEYS[5], ARGV[2] .. ':' .. ARGV[3]) end
if t ~= ARGV[4] then return 1 end
redis.call('HINCRBY', KEYS[1], 's', 1)
redis.call('PUBLISH', ARGV[5], ARGV[6])
return 3
