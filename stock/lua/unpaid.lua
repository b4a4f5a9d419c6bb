-- unpaid.lua: the last step of giving back a borrowed unit whose deadline
-- passed unpaid, on the user's home shard h, after release.lua on t.
-- KEYS: shard h's state hash, pend, fence, orders, due.
-- ARGV: version, n, user.
-- The release mark "xn:user" is removed exactly once, so two sweepers
-- finishing the same release count it once. The entry is dropped (the
-- allowance is free), r<n:user> is recorded for a late paid.lua, and ru+1.
-- Reply: 1 released unpaid  0 already finished (or released by the
--        backend meanwhile)  5 not loaded  6 stale version
local u = 'u' .. ARGV[3]
local id = ARGV[2] .. ':' .. ARGV[3]
local c = redis.call('HMGET', KEYS[1], 'v', u)
if not c[1] then return 5 end
if c[1] ~= ARGV[1] then return 6 end
if redis.call('ZREM', KEYS[5], 'x' .. id) == 0 then return 0 end
local rec, _, t = c[2]
if rec then _, t = string.match(rec, ';' .. ARGV[2] .. ',(%w+),(%w+)') end
if not t or t == 'p' then return 0 end
rec = string.gsub(rec, ';' .. ARGV[2] .. ',%w+,%w+', '')
redis.call('HSET', KEYS[1], u, rec, 'r' .. id, 1)
redis.call('HINCRBY', KEYS[1], 'ru', 1)
return 1
