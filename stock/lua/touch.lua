-- touch.lua: a live forwarder keeps the entries it is working on fresh,
-- so that another instance's XAUTOCLAIM (which takes entries idle longer
-- than claim_idle) does not take them over; a forwarder that stops hands
-- back those it did not finish by making them look long idle, so another
-- instance's next XAUTOCLAIM takes them at once instead of after
-- claim_idle. Only entries this consumer still owns are touched: one that
-- another instance claimed meanwhile is left to it, and reported, so that
-- this forwarder stops working on it.
-- KEYS: the orders Stream.
-- ARGV: group, consumer, idle (ms: 0 to keep, large to hand back), ids...
-- Reply: the ids this consumer no longer owns.
local lost = {}
for i = 4, #ARGV do
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if p[1] and p[1][2] == ARGV[2] then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'IDLE', ARGV[3], 'JUSTID')
  else
    lost[#lost + 1] = ARGV[i]
  end
end
return lost
