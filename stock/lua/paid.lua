-- paid.lua: the backend confirms the payment of purchase n of a user, on
-- the user's home shard h, where the ledger and the due marks live.
-- KEYS: shard h's state hash, pend, fence, orders, due.
-- ARGV: version, n, user.
-- The due mark ("n:user", score = deadline) is removed exactly once,
-- by this script or by expire.lua, so a payment and an expiry racing on
-- it cannot both succeed. Once expire.lua has begun the release of a
-- borrowed unit ("xn:user" in due) or finished it (r<n:user> in the
-- state hash), the payment is refused; so is one for a unit whose
-- give-back by Release has begun (its attempt is R, claim.lua).
-- Reply: 1 paid now  2 already paid (or admitted without a deadline)
--        3 released unpaid, or its release has begun  4 no such held unit
--        5 not loaded  6 stale version
local u = 'u' .. ARGV[3]
local id = ARGV[2] .. ':' .. ARGV[3]
local c = redis.call('HMGET', KEYS[1], 'v', u, 'r' .. id)
if not c[1] then return 5 end
if c[1] ~= ARGV[1] then return 6 end
local a, t
if c[2] then a, t = string.match(c[2], ';' .. ARGV[2] .. ',(%w+),(%w+)') end
if not t or t == 'p' then
  if c[3] then return 3 end
  return 4
end
if a == 'R' then -- retracted: its give-back has begun, the unit is going back
  if redis.call('ZSCORE', KEYS[5], 'x' .. id) then return 3 end
  return 4
end
if redis.call('ZREM', KEYS[5], id) == 1 then
  redis.call('HINCRBY', KEYS[1], 'pd', 1)
  return 1
end
if redis.call('ZSCORE', KEYS[5], 'x' .. id) then return 3 end
return 2
