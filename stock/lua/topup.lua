-- topup.lua: TopUp's share for shard i. The units are recorded in the
-- state hash ('t') in the same step as they are added to 's', so Counts'
-- total (loaded + topped up) always matches the stock it sees.
-- It is an operator's write, fenced (internal/redisfence: the prologue
-- before this file returns -1 past ARGV[1], the deadline, so a top-up
-- answered 503 never lands later and a retry cannot double it).
-- KEYS: shard i's state hash, pend, fence, orders. ARGV: deadline,
-- version, units, channel, msg.
-- Reply: the shard's new stock (>= 1), or -1 too late, -5 not loaded,
-- -6 stale version.
local v = redis.call('HGET', KEYS[1], 'v')
if not v then return -5 end
if v ~= ARGV[2] then return -6 end
local n = redis.call('HINCRBY', KEYS[1], 's', ARGV[3])
redis.call('HINCRBY', KEYS[1], 't', ARGV[3])
redis.call('PUBLISH', ARGV[4], ARGV[5])
return n
