-- dropdone.lua: clear the meta key's pending delete of old shards once
-- the load at ARGV[2] deleted them, for the warm lease's holder only.
-- KEYS: the meta key, the lease key. ARGV: token, version.
-- Reply: 1 done (or the meta key names a newer load), 0 not the holder.
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
if redis.call('HGET', KEYS[1], 'version') == ARGV[2] then redis.call('HDEL', KEYS[1], 'drop') end
return 1
