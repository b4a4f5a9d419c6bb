-- payleased.lua: a Warm's change of pay_within in place, written only
-- while it holds the warm lease.
-- KEYS: the meta key, the lease key. ARGV: pay_within (ms), token.
-- Reply: 1 set, 0 not the holder.
if redis.call('GET', KEYS[2]) ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'pay_within', ARGV[1])
return 1
