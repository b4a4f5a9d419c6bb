-- fence.lua: Reconcile's probe of shard t for a pending id.
-- KEYS: the nine keys of shard t. ARGV: version, id (n:user).
-- Reports whether the id took a unit here; if it did not, leaves a
-- tombstone so that an in-flight borrow of the id can no longer take one.
-- Reply: 1 a live order exists  0 none (now fenced)  5 not loaded  6 stale
local v = redis.call('HGET', KEYS[1], 'v')
if not v then return 5 end
if v ~= ARGV[1] then return 6 end
local o = redis.call('HGET', KEYS[7], ARGV[2])
if o == '1' then return 1 end
if not o then redis.call('HSET', KEYS[7], ARGV[2], '0') end
return 0
