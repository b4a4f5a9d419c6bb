-- GCRA on one bucket shared by every gateway instance.
-- KEYS[1]  the bucket
-- ARGV[1]  emission interval, microseconds (may be fractional)
-- ARGV[2]  tolerance = burst * interval, microseconds
-- Returns 0 when the request is admitted, else the whole microseconds
-- until a request could be admitted (the bucket is left unchanged).
--
-- Time is the Redis server's, so instances whose clocks disagree still
-- share one timeline. It is counted from 2023-11-14 so that microseconds
-- stay well inside a double's exact integers (2^53 us is 285 years) and a
-- fractional interval keeps its precision.
local t = redis.call('TIME')
local now = (tonumber(t[1]) - 1700000000) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then
  tat = now
end
local new = tat + interval
local wait = new - now - tolerance
-- Doubles near now (~1e14 us) step by 2^-6 us, so an idle bucket can
-- compute a wait of a few hundredths of a microsecond where the exact
-- answer is 0: count anything under half a microsecond as on time, or a
-- fractional interval would refuse every request.
if wait > 0.5 then
  return math.ceil(wait)
end
-- The bucket is full again once new has passed: expire it then.
redis.call('SET', KEYS[1], string.format('%.3f', new), 'PX', math.ceil((new - now) / 1000) + 1)
return 0
