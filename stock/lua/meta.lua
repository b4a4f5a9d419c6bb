-- meta.lua: Warm's first write: allocates the next load version and
-- records the spec, in one step so concurrent Warms get distinct versions.
-- KEYS: the activity's meta key, its warm lease key (warmlease.go).
-- ARGV: stock, shards, per_user, pay_within (ms, 0 for none), the lease
-- token, floor (the highest version any shard holds: the new one is
-- above it even if gen was lost), forced ('1': a forced load, finished as
-- forced by the next Warm if this one dies half-way), drop (the previous
-- load's shard count when it had more shards, to delete; 0 for none).
-- Reply: the new version, or -1 when the caller no longer holds the lease
-- (it expired or was lost: another Warm may have run since this one
-- checked the sale).
if redis.call('GET', KEYS[2]) ~= ARGV[5] then return -1 end
local v = redis.call('HINCRBY', KEYS[1], 'gen', 1)
if v <= tonumber(ARGV[6]) then
  v = tonumber(ARGV[6]) + 1
  redis.call('HSET', KEYS[1], 'gen', v)
end
redis.call('HSET', KEYS[1], 'stock', ARGV[1], 'shards', ARGV[2],
  'per_user', ARGV[3], 'version', v, 'pay_within', ARGV[4],
  'forced', ARGV[7], 'drop', ARGV[8])
return v
