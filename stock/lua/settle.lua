-- settle.lua: step 3 of Take (and Reconcile's verdict), on the home shard h.
-- KEYS: shard h's state hash, pend, fence, orders.
-- ARGV: version, id (n:user), user, t, n [, due: pay_within mode, the
--       deadline in ms: holding the entry adds the due mark id to KEYS[5]
--       in the same step, so a held unit always has its deadline].
-- t >= 0: the unit was taken on shard t: the pending entry n of the
--         user's record becomes held on t.
-- t = -1: no unit was taken: the pending mark and the entry go, which
--         gives the allowance back.
-- The pending mark is removed exactly once (ZREM), so a Take and a
-- Reconcile racing on it cannot both act.
-- Reply: 1 the id is held (now or already)  2 rolled back  0 mark gone
--        5 not loaded  6 stale version
local u = 'u' .. ARGV[3]
local c = redis.call('HMGET', KEYS[1], 'v', u)
if not c[1] then return 5 end
if c[1] ~= ARGV[1] then return 6 end
local rec = c[2] or ''
local entry = ';' .. ARGV[5] .. ',(%w+),(%w+)'
if redis.call('ZREM', KEYS[2], ARGV[2]) == 0 then
  local _, t = string.match(rec, entry)
  if t and t ~= 'p' then return 1 end
  return 0
end
if ARGV[4] ~= '-1' then
  rec = string.gsub(rec, ';' .. ARGV[5] .. ',(%w+),p', ';' .. ARGV[5] .. ',%1,' .. ARGV[4])
  redis.call('HSET', KEYS[1], u, rec)
  if ARGV[6] then redis.call('ZADD', KEYS[5], ARGV[6], ARGV[2]) end
  return 1
end
rec = string.gsub(rec, ';' .. ARGV[5] .. ',%w+,%w+', '')
redis.call('HSET', KEYS[1], u, rec)
return 2
