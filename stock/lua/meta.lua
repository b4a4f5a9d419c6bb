-- meta.lua: Warm's first write: allocates the next load version and
-- records the spec, in one step so concurrent Warms get distinct versions.
-- KEYS: the activity's meta key, its warm lease key (warmlease.go).
-- ARGV: stock, shards, per_user, pay_within (ms, 0 for none), the lease
-- token.
-- Reply: the new version, or -1 when the caller no longer holds the lease
-- (it expired: another Warm may have run since this one checked the sale).
if redis.call('GET', KEYS[2]) ~= ARGV[5] then return -1 end
local v = redis.call('HINCRBY', KEYS[1], 'gen', 1)
redis.call('HSET', KEYS[1], 'stock', ARGV[1], 'shards', ARGV[2],
  'per_user', ARGV[3], 'version', v, 'pay_within', ARGV[4] or 0)
return v
