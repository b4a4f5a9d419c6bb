-- swapver.lua: freeze or thaw a shard around a Warm that replaces an
-- unsold activity. Every shard script answers "stale" to a version it does
-- not hold, so a frozen shard (v = -version) sells nothing while Warm
-- checks that nothing was sold and loads the new spec.
-- KEYS: shard's state hash, pend, fence, orders (only the state hash is used).
-- ARGV: from, to.  Reply: 1 swapped, 0 the shard held another version.
if redis.call('HGET', KEYS[1], 'v') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'v', ARGV[2])
  return 1
end
return 0
