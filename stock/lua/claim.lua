-- claim.lua: the held-mark check of async mode, on the user's home shard h
-- (where the ledger entry lives, whichever shard's Stream holds the order).
-- KEYS: shard h's state hash, pend, fence, orders.
-- ARGV: version (the order's), n, user, mode, attempt.
-- mode 'c' (claim, the forwarder before it delivers):
--   the entry ;n,a,t is absent: the unit was given back (released,
--   abandoned, rolled back): 0, drop the order;
--   its attempt is R (retracted): a give-back began and, the entry being
--   still there, did not finish (its caller died or timed out between
--   the retract and unhold.lua): 8, drop the order once Release has
--   finished the give-back (the forwarder does, on Check's
--   OrderRetracted; Release is idempotent);
--   7 when it was given back (or its give-back begun) because its
--   pay_within deadline passed unpaid (r<n:user>, or the release mark
--   xn:user in the due set, KEYS[5]: the sweep finishes that one), so
--   the poll can say why;
--   t is p (settle.lua not run yet): 3, retry shortly;
--   its attempt is D (claimed before: a redelivery): 2;
--   else the attempt id becomes D and 1: deliver.
-- mode 'p' (peek): as 'c', but writes nothing: 1 means 'c' would claim
--   it now (wait_replicas: Check probes the replicas before it claims).
-- mode 'r' (retract, the first step of every give-back): the attempt id
--   becomes R, so that no forwarder claims the order from now on, and 1.
--   With an attempt (an abandoned Take's give-back) only when the entry
--   still carries that attempt (or R: a retried give-back); an entry a
--   forwarder already claimed (D) is left alone: 2, the order is under way
--   and its unit stays sold. Without one (Release) D is retracted too:
--   the caller decided. A pending entry: 3. No entry: 0.
-- D and R are upper case, which an attempt id (lower-case hex) never is,
-- and %w, so the patterns of unhold.lua, settle.lua and abandon.lua still
-- read the entry (abandon.lua looks for the attempt id and finds none: it
-- fences an attempt that already ran, which is harmless).
-- Reply: as above; 5 not loaded; 6 another version (a forced re-Warm
-- reset the ledgers: the order's unit no longer exists); 9 frozen (v is
-- -version: a Warm checks that the sale is unsold before replacing it,
-- and thaws it when it was not), in every mode: retry shortly, nothing
-- is decided.
-- KEYS[5] (the due set) is read only when a claim finds the unit gone.
local u = 'u' .. ARGV[3]
local c = redis.call('HMGET', KEYS[1], 'v', u)
if not c[1] then return 5 end
if c[1] ~= ARGV[1] then
  if c[1] == '-' .. ARGV[1] then return 9 end
  return 6
end
local function gone()
  if ARGV[4] == 'r' then return 0 end
  local id = ARGV[2] .. ':' .. ARGV[3]
  if redis.call('HEXISTS', KEYS[1], 'r' .. id) == 1 or redis.call('ZSCORE', KEYS[5], 'x' .. id) then return 7 end
  return 0
end
if not c[2] then return gone() end
local pre = ';' .. ARGV[2] .. ','
local a, t = string.match(c[2], pre .. '(%w+),(%w+)')
if not a then return gone() end
if t == 'p' then return 3 end
local to
if ARGV[4] ~= 'r' then
  if a == 'R' then
    if gone() == 7 then return 7 end
    return 8
  end
  if a == 'D' then return 2 end
  if ARGV[4] == 'p' then return 1 end
  to = 'D'
else
  if ARGV[5] ~= '' and a ~= ARGV[5] and a ~= 'R' then return 2 end
  if a == 'R' then return 1 end
  to = 'R'
end
local rec = string.gsub(c[2], pre .. '%w+,(%w+)', pre .. to .. ',%1', 1)
redis.call('HSET', KEYS[1], u, rec)
return 1
