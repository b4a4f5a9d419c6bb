-- settle.lua: step 3 of Take (and Reconcile's verdict), on the home shard h.
-- KEYS: the nine keys of shard h. ARGV: version, id (n:user), user, t.
-- t >= 0: the unit was taken on shard t: the pending mark becomes a held
--         mark recording t.
-- t = -1: no unit was taken: the pending mark goes, the allowance is
--         given back and the attempt record (att) is dropped.
-- The pending mark is removed exactly once (ZREM), so a Take and a
-- Reconcile racing on it cannot both act.
-- Reply: 1 the id is held (now or already)  2 rolled back  0 mark gone
--        5 not loaded  6 stale version
local v = redis.call('HGET', KEYS[1], 'v')
if not v then return 5 end
if v ~= ARGV[1] then return 6 end
if redis.call('ZREM', KEYS[6], ARGV[2]) == 0 then
  if redis.call('HEXISTS', KEYS[5], ARGV[2]) == 1 then return 1 end
  return 0
end
if ARGV[4] ~= '-1' then
  redis.call('HSET', KEYS[5], ARGV[2], ARGV[4])
  return 1
end
if redis.call('HINCRBY', KEYS[3], ARGV[3], -1) <= 0 then
  redis.call('HDEL', KEYS[3], ARGV[3])
end
local a = redis.call('HGET', KEYS[8], ARGV[2])
if a then redis.call('HDEL', KEYS[8], ARGV[2], a) end
return 2
