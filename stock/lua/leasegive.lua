-- leasegive.lua: give back an activity's warm lease (warmlease.go), if
-- the caller still holds it.
-- KEYS: the lease key. ARGV: the caller's token.
-- Reply: 1 given back, 0 not the holder's (expired, or another's).
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
