-- borrow.lua: step 2 of Take, on another shard t, for a pending (user, n).
-- KEYS: the nine keys of shard t. ARGV: version, id (n:user).
-- Reply: 1 admitted (now or by an earlier try of the same id)
--        4 empty  5 not loaded  6 stale version  7 fenced by Reconcile
local v = redis.call('HGET', KEYS[1], 'v')
if not v then return 5 end
if v ~= ARGV[1] then return 6 end
local o = redis.call('HGET', KEYS[7], ARGV[2])
if o == '1' then return 1 end
if o then return 7 end
if tonumber(redis.call('GET', KEYS[2]) or '0') > 0 then
  redis.call('DECR', KEYS[2])
  redis.call('HSET', KEYS[7], ARGV[2], '1')
  return 1
end
return 4
