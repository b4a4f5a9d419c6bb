-- A reservation on one pace shared by every gateway instance (the async
-- forwarders): each call takes the next free slot, one interval after the
-- last one taken, and is told how long to wait for it, so every slot
-- taken is used and N instances together keep exactly to the rate (a
-- deny-and-retry bucket loses the slots its waiters wake up late for).
-- KEYS[1]  the pace's key: the theoretical arrival time (TAT) of the next
--          free slot
-- ARGV[1]  emission interval, microseconds (may be fractional)
-- ARGV[2]  horizon, microseconds: how far ahead a slot may be reserved
-- Returns {1, wait}: reserved, the slot starts in wait whole microseconds
-- (rounded down, at least 0); or {0, wait}: refused, the next slot is more
-- than the horizon ahead: ask again in wait microseconds (the pace is left
-- unchanged).
--
-- Time is the Redis server's, counted as in gcra.lua.
local t = redis.call('TIME')
local now = (tonumber(t[1]) - 1700000000) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local horizon = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then
  tat = now
end
local wait = tat - now
if wait > horizon + 0.5 then
  return {0, math.ceil(wait - horizon)}
end
local new = tat + interval
-- Idle once new has passed: expire it then (an absent key is "now").
redis.call('SET', KEYS[1], string.format('%.3f', new), 'PX', math.ceil((new - now) / 1000) + 1)
return {1, math.floor(wait)}
