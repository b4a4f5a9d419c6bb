-- take.lua: step 1 of Take, on the user's home shard h.
-- KEYS: shard h's state hash, pend, fence, orders (see scripts.go).
-- ARGV: version, user, h, attempt (the Take's random id), per_user (of
--       that version: a version's spec never changes, so the caller's copy
--       is as good as the shard's and costs no read)
--       [, order: "version:order" (stock.streamValue); async mode
--       appends it to h's orders Stream on admission, as the value of the
--       one field "n:user"; '' for none] [, due: pay_within mode, the deadline in ms: an
--       admission here adds the due mark "n:user" to KEYS[5] (due) in the
--       same step; a borrow gets it from settle.lua].
-- Reply: code + 8 * n, n being the user's purchase number in this version.
--   1 admitted here    2 limit reached    3 borrow: h is empty, a pending
--   mark (n:user) now holds the allowance  5 not loaded  6 stale version
--   7 fenced: abandon.lua gave this attempt up before it ran; nothing done
--
-- Cost (the reason for the layout): one HMGET reads the version, the
-- units left, the live-fence count, whether anything was admitted yet and
-- the user's whole ledger record; one HSET writes the two that change.
-- Redis CPU per call, INFO commandstats usec_per_call of EVALSHA, medians
-- of 7 interleaved rounds of redis-benchmark -c 32 -P 16 -n 200000 on 2
-- shared cores (scripts/take-cost.sh; README "Stock script cost"):
--   naive SISMEMBER/GET/DECRBY/SADD    3.96 us
--   take.lua, sync                     4.69 us  1.18x naive (target 1.5x;
--                                               1.15-1.36x over seven runs;
--                                               the ten-call layout: 2.3-3.1x)
--   take.lua, async, 256-byte order    6.78 us  1.45x sync (target 1.25x,
--                                               not met; 1.45-1.49x over
--                                               three runs)
--     of which: the order carried in   5.12 us  (+0.43: the 4th key, and
--       but not appended                        Redis's Lua hashes every byte
--                                               of a new string, 1-2 ns a byte)
--     a bare XADD of the entry         0.87 us  (its own time in the script
--                                               is the same, 0.8-0.9 us; the
--                                               rest is redis.call's own work)
--   take.lua, sync with pay_within     8.08 us  1.72x sync (1.71-2.16x over
--                                               five runs: the
--                                               ZADD of the due mark into a
--                                               set of 200000 random deadlines,
--                                               the worst case: a ZADD in Lua
--                                               costs ~2.2 us more than an
--                                               RPUSH there, ~1 us with rising
--                                               deadlines, nothing measurable
--                                               in a set of 5000)
-- On an Intel Xeon (the same script, 5 rounds): naive 2.54, sync 3.79
-- (1.49x naive: at the target), async 5.35 (1.41x sync); with units left
-- passed as a %d string (below), in two runs of 5 rounds: sync 1.32x and
-- 1.37x naive, async 1.47x and 1.46x sync.
-- The async target cannot be met by the append's layout: the carried
-- order and the XADD's own time alone are 1.3 us, more than 25% of sync.
-- Every layout we tried (scripts/append-variants.sh: a constant field so
-- that entries share the node's master fields, fields n, u, o, the field
-- n alone, NOMKSTREAM, an explicit id) costs the same within the noise:
-- 6.55-7.35 us in one run where this one cost 7.02 (sync 5.17). n is
-- formatted once (ns) and reused, so no path formats it twice.
-- The optional due argument costs the sync path nothing measurable: the
-- same 1.2-1.4x naive before and after it was added.
-- The record u<user> = "N;k,attempt,t;..." carries the last purchase
-- number N issued in this version and one entry per live purchase k
-- (its attempt id, and the shard t holding its unit, or p while pending):
-- the count, the sequence, the held and pending marks and the attempt
-- records of the old layout, in one field.
local u = 'u' .. ARGV[2]
local c = redis.call('HMGET', KEYS[1], 'v', 's', 'f', 'a', u)
if not c[1] then return 5 end
if c[1] ~= ARGV[1] then return 6 end
if c[3] ~= '0' and redis.call('ZREM', KEYS[3], ARGV[4]) == 1 then
  redis.call('HINCRBY', KEYS[1], 'f', -1)
  return 7
end
local rec, n, ns = c[5], 1, '1'
if rec then
  local pos = string.find(rec, ';', 1, true)
  if pos then
    local _, held = string.gsub(rec, ';', '')
    if held >= tonumber(ARGV[5]) then return 2 end
    n = tonumber(string.sub(rec, 1, pos - 1)) + 1
    ns = tostring(n)
    rec = ns .. string.sub(rec, pos)
  else
    n = tonumber(rec) + 1
    ns = tostring(n)
    rec = ns
  end
else
  rec = '1'
end
local s = tonumber(c[2])
if s > 0 then
  rec = rec .. ';' .. ns .. ',' .. ARGV[4] .. ',' .. ARGV[3]
  -- Units left go to Redis as a string formatted with %d: a Lua number
  -- argument is formatted by Redis with %.17g, which cost 0.15 us of the
  -- 3.8 us call (4%, medians of 7 interleaved rounds on the Xeon).
  local left = string.format('%d', s - 1)
  if c[4] then
    redis.call('HSET', KEYS[1], 's', left, u, rec)
  else
    redis.call('HSET', KEYS[1], 's', left, u, rec, 'a', '1')
  end
  if ARGV[6] and ARGV[6] ~= '' then
    redis.call('XADD', KEYS[4], '*', ns .. ':' .. ARGV[2], ARGV[6])
  end
  if ARGV[7] then redis.call('ZADD', KEYS[5], ARGV[7], ns .. ':' .. ARGV[2]) end
  return 1 + 8 * n
end
redis.call('HSET', KEYS[1], u, rec .. ';' .. ns .. ',' .. ARGV[4] .. ',p')
local t = redis.call('TIME')
redis.call('ZADD', KEYS[2], t[1] * 1000 + math.floor(t[2] / 1000), ns .. ':' .. ARGV[2])
return 3 + 8 * n
