-- pending.lua: Reconcile's scan of shard h for pending marks older than
-- ARGV[2] milliseconds by this server's clock (the one that stamped them).
-- KEYS: shard h's state hash, pend, fence, orders. ARGV: version, age ms, limit.
-- Reply: up to limit ids (n:user); empty when not loaded or stale.
local v = redis.call('HGET', KEYS[1], 'v')
if v ~= ARGV[1] then return {} end
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
return redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[2]),
  'LIMIT', 0, tonumber(ARGV[3]))
