// Package stock is the stock store of a flash sale: it must never
// oversell. Two implementations share the Store interface: NewMemory for a
// single gateway, NewRedis for a fleet sharing one Redis (standalone or
// cluster).
//
// # Four invariants
//
//  1. Never oversell: no more units are admitted than the stock.
//  2. At most PerUser units per user, even when the user's home shard is
//     empty and another shard has stock.
//  3. No undersell: Take does not answer SoldOut while a shard still has a
//     unit (up to the local sold-out knowledge, which is at most about a
//     second stale, see below).
//  4. No lost sale: a unit admitted for a Take whose caller never got the
//     decision (it gave up, or Redis failed part-way) is given back, and
//     the user is free to buy again. Only a gateway crash (or Close, or a
//     full queue, counted in RedisStats.Lost) can still leave such a unit
//     held with no order; see the table below.
//
// # Redis key layout
//
// An activity's stock is split over N shards so that a hot sale is spread
// over N hash slots. Shard i of activity A has the hash tag {<prefix>A:i};
// every key of the shard shares it, so every script runs in one slot:
//
//	{fg:act42:3}:s       HASH   the shard's state, below
//	{fg:act42:3}:pend    ZSET   "n:user", score = ms (pending mark)
//	{fg:act42:3}:fence   ZSET   attempts given up before take.lua ran, score = ms
//	{fg:act42:3}:orders  STREAM async mode: orders whose unit shard 3 gave,
//	                            one field per entry, "n:user" ->
//	                            "version:order" (TakeOrder: take.lua or
//	                            borrow.lua append in the call that takes
//	                            the unit); acked entries are deleted
//	{fg:act42:3}:due     ZSET   pay_within: "n:user" -> deadline ms of each
//	                            unit held unpaid whose home is 3; "xn:user"
//	                            -> 0 while its release is under way (see
//	                            Pay within)
//	{fg:act42:3}:dead    STREAM async mode: dead-lettered orders of shard 3
//	                            (id, order, reason), capped near 100000
//	{fg:act42:3}:st:<seq:user>
//	                     STRING async mode: the final status of purchase seq
//	                            (load version and n) of a user homed on 3
//	                            (24 h TTL)
//	{fg:act42:3}:w       STRING WaitReplicas: the forwarders' replication
//	                            probe, written before a WAIT (1 h TTL)
//	{fg:act42:meta}      HASH   stock, shards, per_user, pay_within (ms),
//	                            version, gen, forced ("1": the load at
//	                            version was forced), drop (the shard count
//	                            of the load before, while its extra shards
//	                            are not yet deleted)
//	{fg:act42:meta}:warm STRING the warm lease: the holding Warm's token,
//	                            PX 30 s (warmlease.go)
//
// The state hash holds everything the hot path reads and writes, so that
// take.lua costs Redis one HMGET and one HSET (lua/take.lua gives the
// measured cost):
//
//	v, pu, n      load version, per-user limit, shard count
//	s             units left on shard 3
//	t             units topped up on shard 3 since the load (Counts)
//	a             "1" once a unit was taken on shard 3 in this version
//	f             how many fences the fence set holds (take.lua skips it at 0)
//	u<user>       ledger record of a user whose home is 3: "N;k,a,t;...",
//	              N the last purchase number issued in this version, then
//	              one entry per live purchase k with its attempt id a and
//	              the shard t holding its unit ("p" while pending); in
//	              async mode a becomes D once a forwarder claimed the
//	              order, and every give-back first turns it into R
//	              (retracted); neither is lower-case hex, so no attempt
//	              id is ever mistaken for them
//	o<n:user>     order record of a unit borrowed from shard 3 by a user
//	              homed elsewhere: "1" taken, "0" tombstone
//	pd, ru        pay_within: payments confirmed, units released unpaid
//	              (of the users homed on 3; Counts sums the shards)
//	r<n:user>     pay_within: "1" once the unit was released unpaid, so
//	              a late payment is told why
//
// A user's home shard is h = fnv1a(user) mod N. The per-user ledger
// (the record: count, sequence, held and pending marks, attempt ids)
// lives only on h, so the per-user check is atomic there. A unit taken on
// h is recorded by its entry alone (t = h); a unit borrowed from t != h
// also has an order record on t. Decision.Seq is version<<32 | n: the
// version grows with every (re)load, so a sequence number is never
// reused, even after a forced Warm resets the ledgers.
//
// Every shard script takes the five keys of its shard (take.lua in sync
// mode without pay_within the first three) and checks the shard's version against the
// caller's: a gateway holding a spec from an older load gets "stale",
// reads the meta key again and retries once, so a re-Warm with a
// different shard count cannot split a user's ledger.
//
// # Take: one script per step, each on one shard
//
//  1. take.lua on h, with the Take's attempt id (64 random bits): if the
//     attempt is fenced (see Lost outcomes), nothing. If the user's record
//     has per_user entries, LimitReached. Otherwise n = N+1 and a new
//     entry (n, attempt) joins the record; if s_h > 0, s_h-1 and the entry
//     is held on h: Admitted in one round trip, the common case (in async
//     mode the order is appended to h's Stream in the same call). If s_h
//     is 0, the entry is pending, a pending mark (n:user, now) is added
//     and the answer is "borrow".
//  2. borrow.lua on t = h+1, h+2, ... (first the shards not known empty,
//     then, so a stale local bit never causes a SoldOut, the rest): a live
//     order record for n:user means an earlier try already took it
//     (Admitted); a tombstone means Reconcile fenced it (fail closed);
//     s_t > 0 means s_t-1 and an order record on t (Admitted, and in async
//     mode the order appended to t's Stream); else empty.
//  3. settle.lua on h: ZREM the pending mark (exactly once) and either
//     hold the entry on t, or, when every shard was empty, drop the entry,
//     which gives the allowance back: SoldOut.
//
// Why the invariants hold:
//
//   - Oversell: a unit is admitted only by a script that decremented a
//     positive s (take.lua or borrow.lua), atomically, and the order record
//     makes a repeated borrow of the same id idempotent. Go
//     never returns Admitted without such a reply.
//   - PerUser: the allowance is taken on h (a new entry) before any unit is
//     looked for and returned only when no unit was taken (settle.lua's
//     rollback, Reconcile after fencing, or Release after the unit is
//     back). All of it happens on h, so two concurrent Takes of one user
//     are serialised by Redis there, whichever shard has the stock.
//   - Undersell: a Take that gets "borrow" probes every other shard before
//     SoldOut; the local bits only order the probes. A Take that answers
//     SoldOut without I/O does so because every shard answered empty to
//     this instance, and every refill clears the bits (below).
//
// # Lost outcomes: who waits for what
//
// A caller waits for a Take at most until its ctx is done or Timeout
// passes, then tells the user "busy, retry". The scripts, though, may
// already be written to Redis, which runs them whenever it can. So Take
// runs the steps above in the background (on a settler, settlers.go: one
// per Take in flight that needs Redis; the local answers need none) under
// their own, longer bound,
// SettleTimeout (default 30 s), and one atomic word per Take, waiting ->
// delivered or waiting -> abandoned, makes exactly one side own the
// outcome:
//
//   - delivered: the caller has the decision; nothing else happens.
//   - abandoned: the caller has left. If the steps then admit a unit, the
//     store gives it back at once through Release's path (release.lua for
//     a borrowed unit: tombstone, s+1, PUBLISH; unhold.lua: the entry, and
//     the unit itself when it lives on h), so
//     the unit sells again and the user is not told "you already have it"
//     about a purchase nobody will ever send to the backend.
//   - unknown: a step failed, or SettleTimeout passed without a reply. The
//     (activity, user, attempt) goes on a bounded in-memory queue (65536)
//     that the sync loop works every SyncInterval until abandon.lua on h
//     answers. If take.lua ran with that attempt, att leads to its unit:
//     a held unit is given back as above, a pending borrow is first
//     resolved as Reconcile does (fence, then settle). If take.lua has not
//     run, abandon.lua fences the attempt, so that a take.lua still queued
//     in a socket finds the fence and does nothing. Fences are pruned
//     after an hour (longer than TCP keeps retransmitting a script).
//
// RedisStats counts these (Abandoned, Compensated, Unresolved, Lost).
// MaxSettling (default 10000) bounds the Takes in flight: beyond it Take
// fails at once and sends nothing, so a hung Redis neither piles up
// goroutines nor queues more scripts than that.
//
// # What each failure leaves
//
// A gateway may die, or a call time out, between any two steps. With
// T = Timeout (or the caller's ctx, if shorter) and S = SettleTimeout:
//
//	what happens                  caller sees     Redis is left with
//	Redis answers within T        the decision    a consistent ledger
//	no answer within T, one       ErrUnavailable  the steps finish in the
//	  within S                                    background; a unit they
//	                                              admit is given back at once
//	                                              (Left back to before, the
//	                                              user can buy). A retry that
//	                                              lands before the give-back
//	                                              may see LimitReached once.
//	no answer within S (Redis     ErrUnavailable  the unit, if take.lua ran,
//	  hung or unreachable                         stays held until Redis
//	  longer), or a step fails                    answers abandon.lua (about
//	                                              one SyncInterval later),
//	                                              which gives it back or
//	                                              fences the attempt
//	Release times out between     ErrUnavailable  the allowance used without
//	  release.lua and unhold.lua                  a unit; a retried Release
//	                                              finishes it, and so does
//	                                              the next held-mark check of
//	                                              its order (async mode)
//	a sweeper dies between        -               the release mark (and, in
//	  expire.lua and unpaid.lua                   async mode, the order
//	                                              retracted); the next
//	                                              sweep on any instance
//	                                              finishes the release once
//	the gateway crashes or        -               what the steps had done: an
//	  Closes mid-Take, or the                     admitted unit stays held
//	  queue is full                               with no order (sold, never
//	                                              sent; in async mode its
//	                                              order is in the Stream and
//	                                              is delivered) until a
//	                                              forced Warm (with
//	                                              pay_within: until its
//	                                              deadline, then swept); a
//	                                              pending mark is resolved by
//	                                              Reconcile (held if a borrow
//	                                              took a unit, else rolled
//	                                              back). The queue is memory:
//	                                              it dies with the process
//
//	async: a forwarder dies      -               its entries stay pending
//	  with entries read or                        until another instance
//	  claimed                                     takes them over after
//	                                              claim_idle; those it had
//	                                              claimed (D, at most its
//	                                              max_inflight) are sent
//	                                              again, same key
//	async: a forwarder dies or    -               a dead letter: the entry R
//	  stops between Release's                     or gone; the next claimer's
//	  retract and the ack                         check finishes an R entry's
//	                                              give-back (OrderRetracted:
//	                                              Release) and drops it; the
//	                                              :dead copy is written by the
//	                                              ack that removes the entry
//	                                              only (never twice)
//	a Warm freezes the shards     -               every shard script answers
//	  (v = -version) to check                     "frozen" (9): the forwarders
//	  an unsold sale, or fails                    wait, give-backs fail with
//	  before it loads or thaws                    ErrUnavailable and are
//	                                              retried. Found sold, a Warm
//	                                              thaws (retrying); one that
//	                                              fails leaves the freeze,
//	                                              and the next Warm of any
//	                                              spec resolves it: sold, it
//	                                              thaws first; unsold, it
//	                                              replaces the sale (top-ups
//	                                              of the unsold load go)
//	a Warm meets another          ErrWarmBusy     nothing changed (the lease
//	  Warm's lease                                is held; one that died
//	                                              expires after 30 s)
//	a Warm loses its lease        ErrWarmBusy     nothing of a newer Warm's:
//	  (stalled past it, or        (lost lease)    meta.lua refuses it a
//	  the lease lost to a                         version; it loads shard 0
//	  failover or an eviction)                    first and stops there if a
//	                                              newer load has it; load.lua
//	                                              and drop.lua skip shards at
//	                                              its version or newer; no
//	                                              sold shard is reset
//	the meta key is lost          ErrExists       nothing changed: a Warm
//	  (evicted, deleted)          (next Warm)     without force refuses
//	                                              while any shard holds a
//	                                              load; the sale sells on in
//	                                              its shards for instances
//	                                              that cached its spec
//	the meta key is behind        ErrExists       nothing changed: a Warm
//	  its shards (restored,       (next Warm)     without force that meets a
//	  a failover lost its                         shard newer than the meta
//	  last writes)                                key names stops there
//
// Never an oversell or a PerUser breach in any row. The attempt records
// cost two small fields per live purchase on its home shard (dropped when
// the unit is released or the borrow rolled back) and one fence per
// unknown outcome.
//
// Reconcile (run by the sync loop every PendingAge/2 for marks older than
// PendingAge, default 10 s) resolves pending marks: fence.lua on every
// shard either finds the live order (then settle.lua records the held
// mark) or leaves a tombstone so that an in-flight borrow of the same id
// can no longer succeed; only when no shard has the order is the mark
// rolled back. Thanks to the tombstones the verdict is correct even if
// the Take is still alive, and settle.lua's ZREM lets only one of Take
// and Reconcile act on a mark. Reconcile covers the activities the
// instance has cached; every serving instance caches the ones it sells.
// PendingAge is shorter than SettleTimeout by default, so Reconcile may
// fence a borrow still settling in the background: that Take then fails
// closed, its allowance given back, and abandon.lua finds nothing to undo.
//
// # Async mode: the held-mark check
//
// TakeOrder queues the order in the script that takes the unit, so there
// is no admitted unit without its order. The other direction, no order
// delivered for a unit that was given back, is claim.lua's, on the home
// shard h (h = fnv1a(user) mod the order's version's shard count; the
// order of a borrowed unit sits in shard t's Stream, its entry on h):
//
//   - claim (a forwarder, before it waits for its rate slot and again
//     right before the send, after the slot, so a give-back while it
//     waited stops it; for the first send and each retry): no entry: the unit was given back: drop the order (told
//     apart as unpaid when r<n:user> or the release mark xn:user says the
//     pay_within sweep gave it back, see Pay within); R: a give-back
//     began and did not finish (the entry would be gone): OrderRetracted,
//     the forwarder finishes it with Release, then drops the order (an
//     unpaid one's the sweep finishes); t = p: settle.lua
//     has not run: check again shortly; D: claimed before (a redelivery, same
//     Idempotency-Key); else the attempt id becomes D: deliver. Another
//     version: a forced re-Warm reset the ledger: drop.
//   - retract (the first step of every give-back, giveBack; the unpaid
//     sweep does it inside expire.lua, see Pay within): the attempt
//     id becomes R. A give-back of an abandoned Take (giveBackAbandoned,
//     abandon.lua's held case) passes its attempt id and retracts only
//     if the entry still carries it: a D entry is left alone, the order
//     is under way and its unit stays sold. Release passes none and
//     retracts a D entry too (the backend or an operator decided; a
//     forwarder that takes the entry over later finds R and drops it).
//
// Claim and retract both run on h, so Redis serialises them: either the
// order is delivered and the unit stays sold, or the unit comes back
// and the order is dropped. abandon.lua looking up a claimed attempt
// finds no entry carrying it and fences an attempt that already ran,
// which is harmless. A crash between retract and the rest of a
// give-back leaves an R entry holding the allowance (no oversell); a
// retried Release finishes it, and so does the next check of its order.
// Paid refuses an R entry (the unit is on its way back).
//
// A forwarder acks and deletes an entry once it is finished (ack.lua;
// the ack that removes a dead letter copies it to the shard's :dead
// Stream, once), writes the
// final status under h's tag, and keeps the entries it works on fresh
// (touch.lua) so that XAUTOCLAIM in another instance takes over only the
// entries of a dead one. It reads no more entries than it has free
// slots, so every entry it holds is touched, and skips the entries
// XAUTOCLAIM returns that it already works on (its own, gone idle while
// Redis was away).
//
// # Replicas
//
// With WaitReplicas > 0 each admitting script (take.lua, and borrow.lua
// for a borrowed unit) is followed by WAIT on its connection, in one
// DoMulti (replicas.go). Too few acknowledgements within WaitTimeout: an
// admitted unit is given back as an abandoned Take's is (retract with
// the attempt, then the unit) and Take fails with ErrUnavailable; a
// take.lua that left a pending entry fails the same way, abandon.lua
// rolling the entry back. A forwarder's Check claims an order only after
// a probe write and WAIT on the shards involved succeed, so a claimed
// order (which the give-back leaves alone: Take then answers Admitted)
// is always a replicated one. Give-backs, Warm and TopUp are not waited
// for: losing one to a failover holds a unit too long or drops stock,
// never an oversell.
//
// # Release
//
// Find t from the user's record on h (HGET), then claim.lua's retract on
// h (see Async mode), then, for a unit borrowed from t != h, release.lua
// on t (turn the live order record into a
// tombstone, s_t+1, PUBLISH), then unhold.lua on h (drop the entry, only
// if it is held; for t = h it gives the unit back in the same step). A
// crash between the two steps of a borrowed unit leaves the allowance used
// without a unit (no oversell, no PerUser breach); a retried Release
// finishes it. A repeated or unknown release returns (false, nil).
//
// # Pay within
//
// With Spec.PayWithin > 0 an admitted unit stays held until Paid and is
// given back once its deadline passes unpaid, exactly once, on the
// user's home shard: pay.go says how (the due marks, the race of paid.lua
// and expire.lua, the sweeper, async mode, the counts).
//
// # Warm
//
// One Warm of an activity runs at a time, fleet-wide: it holds the
// activity's warm lease (warmlease.go), and another answers ErrWarmBusy.
// meta.lua allocates the next version (gen), above every version a shard
// holds, and writes the spec, for the lease's holder only; then load.lua
// resets each shard (a shard never goes back to an older version or
// repeats one, and without force never resets one that sold in the
// version it holds), drop.lua deletes the shards beyond a smaller new
// count (never one at this version or newer), and "A:*" is published.
// Warm without force is a no-op for the same spec when every shard is at
// the meta version (a Warm that died half-way is completed, as forced if
// it was, and its unfinished drop is done by the next Warm of any spec),
// and ErrExists for a different spec once anything was sold, or while
// shards hold a load the meta key does not name (it was lost, or is
// behind them).
//
// # Local sold-out knowledge
//
// Each instance keeps, per activity, a bitset of shards known empty
// (atomics only; SoldOut and the sold-out Take allocate nothing and do no
// I/O). A shard that answers empty is marked. Scripts that bring stock
// back (release.lua, topup.lua, load.lua) PUBLISH "A:i" on <prefix>stock,
// and every instance's listener clears bit i; the listener re-subscribes
// after errors. Pub/sub is at-most-once, so the sync loop re-reads every
// marked shard's stock every SyncInterval (default 500 ms) and checks the
// spec version: every instance learns of new stock within about a second.
//
// # Numbers
//
// Counts is the one definition of what a sale stands at (total, left,
// sold, sold out; see Counts). The Redis store reads the loaded stock from
// the meta key and, per shard in one step (counts.lua), the units left and
// the units topped up: topup.lua records them in the shard's state hash
// ("t") in the same step as it adds them to "s", and load.lua resets the
// record.
//
// # Failure
//
// Every Redis call runs under context.WithTimeout(Timeout), except the
// steps of a Take, which run under SettleTimeout while Take itself waits
// at most Timeout (or ctx) for them. Any Redis error or timeout is
// returned as an error matching ErrUnavailable (and its cause), so the
// gateway fails closed.
package stock
