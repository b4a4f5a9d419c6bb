-- fence.lua: Reconcile's probe of shard t for a pending id.
-- KEYS: shard t's state hash, pend, fence, orders. ARGV: version, id (n:user).
-- Reports whether the id took a unit here; if it did not, leaves a
-- tombstone so that an in-flight borrow of the id can no longer take one.
-- Reply: 1 a live order exists  0 none (now fenced)  5 not loaded  6 stale
local o = 'o' .. ARGV[2]
local c = redis.call('HMGET', KEYS[1], 'v', o)
if not c[1] then return 5 end
if c[1] ~= ARGV[1] then return 6 end
if c[2] == '1' then return 1 end
if not c[2] then redis.call('HSET', KEYS[1], o, '0') end
return 0
