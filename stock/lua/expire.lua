-- expire.lua: the sweeper's first (for a unit on h, only) step of giving
-- back purchase n of a user whose pay_within deadline passed unpaid, on
-- the user's home shard h.
-- KEYS: shard h's state hash, pend, fence, orders, due.
-- ARGV: version, n, user, h, channel, msg.
-- The due mark "n:user" is removed exactly once (paid.lua races for it).
-- A unit held on h itself is given back here in the same step: entry
-- dropped (which retracts its queued order too: claim.lua finds no entry
-- and answers unpaid), s+1, r<n:user> recorded (a late paid.lua is refused),
-- released-unpaid count ru+1, PUBLISH. A unit borrowed from t != h is
-- given back by release.lua on t, so this step only turns the due mark
-- into a release mark "xn:user" (score 0: every sweep picks it up),
-- retracts the entry (its attempt id becomes R, as claim.lua's retract
-- does: from now on no async forwarder claims the order, and one that
-- claimed it before is overruled, as by Release) and replies t; Go then
-- runs release.lua on t and unpaid.lua on h. A sweeper that dies
-- between the steps leaves the release mark, and the next sweep on any
-- instance, calling this script again, gets t again.
-- Reply: {1} given back on h  {2, t} release on t, then unpaid.lua
--        {0} paid, released already, or nothing due  {5} not loaded
--        {6} stale version
local u = 'u' .. ARGV[3]
local id = ARGV[2] .. ':' .. ARGV[3]
local c = redis.call('HMGET', KEYS[1], 'v', u)
if not c[1] then return {5} end
if c[1] ~= ARGV[1] then return {6} end
local rec, _, t = c[2]
if rec then _, t = string.match(rec, ';' .. ARGV[2] .. ',(%w+),(%w+)') end
local due = redis.call('ZREM', KEYS[5], id)
if not t or t == 'p' then
  redis.call('ZREM', KEYS[5], 'x' .. id)
  return {0}
end
if t ~= ARGV[4] then
  if due == 1 then
    redis.call('ZADD', KEYS[5], 0, 'x' .. id)
  elseif not redis.call('ZSCORE', KEYS[5], 'x' .. id) then
    return {0}
  end
  -- retract, also on a repeat (idempotent: a release mark left by a
  -- gateway older than the retraction gets it too)
  local pre = ';' .. ARGV[2] .. ','
  redis.call('HSET', KEYS[1], u, (string.gsub(rec, pre .. '%w+,', pre .. 'R,', 1)))
  return {2, tonumber(t)}
end
if due == 0 then return {0} end
rec = string.gsub(rec, ';' .. ARGV[2] .. ',%w+,%w+', '')
redis.call('HSET', KEYS[1], u, rec, 'r' .. id, 1)
redis.call('HINCRBY', KEYS[1], 's', 1)
redis.call('HINCRBY', KEYS[1], 'ru', 1)
redis.call('PUBLISH', ARGV[5], ARGV[6])
return {1}
