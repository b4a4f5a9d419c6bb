-- lease.lua: take an activity's warm lease (warmlease.go).
-- KEYS: the lease key. ARGV: token, lease (ms).
-- Reply: 0 taken by this caller, else the ms the holder's lease has left.
-- A lease without an expiry (set by hand) gets one, so it cannot keep
-- every Warm out for ever.
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 0 end
local t = redis.call('PTTL', KEYS[1])
if t < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  t = tonumber(ARGV[2])
end
return math.max(t, 1) -- 0 is a lease in its last millisecond: still held
