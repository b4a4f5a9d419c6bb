-- meta.lua: Warm's first write: allocates the next load version and
-- records the spec, in one step so concurrent Warms get distinct versions.
-- KEYS: the activity's meta key, its warm lease key (warmlease.go).
-- ARGV: stock, shards, per_user, pay_within (ms, 0 for none), the lease
-- token, floor (the highest version any shard holds, or the caller's
-- clock floor if higher: the new one is above it even if gen was lost), forced ('1': a forced load, finished as
-- forced by the next Warm if this one dies half-way), drop (the previous
-- load's shard count when it had more shards, to delete; 0 for none).
-- Reply: the new version, or -1 when the caller no longer holds the lease
-- (it expired or was lost: another Warm may have run since this one
-- checked the sale).
--
-- A version never repeats, even after Redis lost the meta key with its
-- gen and every shard (restarted without persistence, a failover to a
-- replica that had none of it): it is at least the seconds since
-- 2026-01-01 on Redis's clock (and on the caller's, through floor: both
-- would have to go back for a version to repeat), so a warm after such a loss starts above
-- every version issued before it (warms come far less often than once a
-- second), and the new load's Idempotency-Keys (activity:user:seq, seq =
-- version << 32 | n) never repeat an old load's, which a backend would
-- take for orders it already has.
if redis.call('GET', KEYS[2]) ~= ARGV[5] then return -1 end
local v = redis.call('HINCRBY', KEYS[1], 'gen', 1)
local t = redis.call('TIME')
local clock = tonumber(t[1]) - 1767225600
if clock > 1073741824 then clock = 0 end -- a clock far ahead must not overflow seq
local least = math.max(tonumber(ARGV[6]) + 1, clock)
if v < least then
  v = least
  redis.call('HSET', KEYS[1], 'gen', string.format('%d', v))
end
redis.call('HSET', KEYS[1], 'stock', ARGV[1], 'shards', ARGV[2],
  'per_user', ARGV[3], 'version', v, 'pay_within', ARGV[4],
  'forced', ARGV[7], 'drop', ARGV[8])
return v
