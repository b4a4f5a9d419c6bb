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
//	{fg:act42:3}:cfg     HASH   v (load version), pu (per-user limit), n (shards), t (units topped up)
//	{fg:act42:3}:stock   STRING units left on shard 3
//	{fg:act42:3}:count   HASH   user -> units held, for users whose home is 3
//	{fg:act42:3}:seq     HASH   user -> last purchase number n issued in this version
//	{fg:act42:3}:held    HASH   "n:user" -> shard holding the unit (held mark)
//	{fg:act42:3}:pend    ZSET   "n:user", score = ms (pending mark)
//	{fg:act42:3}:ord     HASH   "n:user" -> "1" unit taken on shard 3, "0" tombstone
//	{fg:act42:3}:att     HASH   attempt -> "n:user" and "n:user" -> attempt (live purchases)
//	{fg:act42:3}:fence   ZSET   attempts given up before take.lua ran, score = ms
//	{fg:act42:3}:orders  reserved: the Stream of admitted orders (not built yet)
//	{fg:act42:meta}      HASH   stock, shards, per_user, version, gen
//
// A user's home shard is h = fnv1a(user) mod N. The per-user ledger
// (count, seq, held and pending marks, attempt records) lives only on h,
// so the per-user check is atomic there. Order records (ord) live on the shard whose
// stock was decremented. Decision.Seq is version<<32 | n: the version
// grows with every (re)load, so a sequence number is never reused, even
// after a forced Warm resets the ledgers.
//
// Every shard script takes the nine keys of its shard and checks the
// shard's cfg version against the caller's: a gateway holding a spec from
// an older load gets "stale", reads the meta key again and retries once,
// so a re-Warm with a different shard count cannot split a user's ledger.
//
// # Take: one script per step, each on one shard
//
//  1. take.lua on h, with the Take's attempt id (64 random bits): if the
//     attempt is fenced (see Lost outcomes), nothing. If count(user) >=
//     per_user, LimitReached. Otherwise n = HINCRBY seq, count+1, and the
//     attempt is recorded in att both ways; if stock_h > 0, DECR it, record
//     ord and a held mark (-> h): Admitted in one round trip, the common
//     case. If stock_h is 0, add a pending mark (n:user, now) and answer
//     "borrow".
//  2. borrow.lua on t = h+1, h+2, ... (first the shards not known empty,
//     then, so a stale local bit never causes a SoldOut, the rest): a live
//     ord for n:user means an earlier try already took it (Admitted); a
//     tombstone means Reconcile fenced it (fail closed); stock_t > 0 means
//     DECR and record ord on t (Admitted); else empty.
//  3. settle.lua on h: ZREM the pending mark (exactly once) and either
//     record a held mark -> t, or, when every shard was empty, give the
//     allowance back (count-1): SoldOut.
//
// Why the invariants hold:
//
//   - Oversell: a unit is admitted only by a script that decremented a
//     positive stock key (take.lua or borrow.lua), atomically, and the
//     order record makes a repeated borrow of the same id idempotent. Go
//     never returns Admitted without such a reply.
//   - PerUser: the allowance is taken on h (count+1) before any unit is
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
// runs the steps above on a background goroutine (one per Take that needs
// Redis; the local answers need none) under their own, longer bound,
// SettleTimeout (default 30 s), and one atomic word per Take, waiting ->
// delivered or waiting -> abandoned, makes exactly one side own the
// outcome:
//
//   - delivered: the caller has the decision; nothing else happens.
//   - abandoned: the caller has left. If the steps then admit a unit, the
//     store gives it back at once through Release's path (release.lua:
//     tombstone, INCR, PUBLISH; unhold.lua: held mark and allowance), so
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
//	                                              finishes it
//	the gateway crashes or        -               what the steps had done: an
//	  Closes mid-Take, or the                     admitted unit stays held
//	  queue is full                               with no order (sold, never
//	                                              sent) until a forced Warm; a
//	                                              pending mark is resolved by
//	                                              Reconcile (held if a borrow
//	                                              took a unit, else rolled
//	                                              back). The queue is memory:
//	                                              it dies with the process
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
// # Release
//
// Find t from the held mark on h (HGET), release.lua on t (turn the live
// order into a tombstone, INCR stock_t, PUBLISH), then unhold.lua on h
// (delete the held mark and count-1, only if the mark existed). A crash
// between the two leaves the allowance used without a unit (no oversell,
// no PerUser breach); a retried Release finishes it. A repeated or unknown
// release returns (false, nil).
//
// # Warm
//
// meta.lua allocates the next version (gen) and writes the spec; then
// load.lua resets each shard (a shard never goes back to an older
// version), old shards beyond the new count are deleted, and "A:*" is
// published. Warm without force is a no-op for the same spec when every
// shard is at the meta version (a Warm that died half-way is completed),
// and ErrExists for a different spec once anything was sold.
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
// the units topped up: topup.lua records them in the shard's cfg ("t") in
// the same step as it adds them, and load.lua resets the record.
//
// # Failure
//
// Every Redis call runs under context.WithTimeout(Timeout), except the
// steps of a Take, which run under SettleTimeout while Take itself waits
// at most Timeout (or ctx) for them. Any Redis error or timeout is
// returned as an error matching ErrUnavailable (and its cause), so the
// gateway fails closed.
package stock
