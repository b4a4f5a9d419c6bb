-- ack.lua: the end of a queued order's life, on the shard whose Stream
-- holds it: XACK and XDEL (so the Stream holds only orders not finished,
-- and stays bounded by the units of the sale), and for a dead letter
-- an XADD to the shard's dead-letter Stream, capped.
-- KEYS: the orders Stream, the dead-letter Stream.
-- ARGV: group, entry id [, field, order, reason: dead-letter it].
-- Reply: how many entries the ack removed from the pending list (0: it
-- was acked already, by this or another instance).
-- The dead letter is written only by the ack that removed the entry, so
-- a retried ack (its reply lost) or two instances dead-lettering one
-- order write it once: the dead-letter Stream is the refund list.
local n = redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
if n == 1 and ARGV[3] then
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', 100000, '*', 'id', ARGV[3], 'order', ARGV[4], 'reason', ARGV[5])
end
redis.call('XDEL', KEYS[1], ARGV[2])
return n
