-- drop.lua: delete shard i, which the activity's load at version (the
-- caller's) no longer uses: it has fewer shards than the load before.
-- KEYS: shard i's state hash, pend, fence, orders, due.
-- ARGV: version.
-- A shard at this version or newer (loaded, or frozen at -version) belongs
-- to a newer Warm's load with more shards: kept. The orders Stream stays:
-- it holds orders already admitted.
-- Reply: 1 deleted (or already gone)  0 kept
local v = redis.call('HGET', KEYS[1], 'v')
if v and math.abs(tonumber(v)) >= tonumber(ARGV[1]) then return 0 end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[5])
return 1
