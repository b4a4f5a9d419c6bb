package stock

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"

	"github.com/flashgate/flashgate/internal/ident"
)

// Pay within: the Redis store's pay_within (the package's invariants are
// doc.go's; this is the part of them that concerns unpaid units).
//
// With Spec.PayWithin > 0 an admitted unit stays held until Paid, and is
// given back once its deadline (admission + PayWithin, by the admitting
// instance's clock, RedisOptions.Now) passes unpaid. Everything is decided
// on the user's home shard h, where the ledger lives:
//
//   - The deadline is recorded in the step that holds the unit, so no
//     crash can leave a unit held without one: take.lua (admitted on h)
//     and settle.lua (a borrow held on t, also when Reconcile settles it)
//     take the deadline as their last, optional argument and ZADD the due
//     mark "n:user" to h's due set. Without pay_within the argument is
//     absent and take.lua does what it did (lua/take.lua gives the cost of
//     both).
//   - paid.lua and expire.lua race for the due mark with ZREM, which
//     succeeds once: paid.lua's win means paid (pd+1); a held entry with no
//     due mark is already paid (PaidAlready). A unit whose entry is gone
//     was released: with r<n:user> unpaid (PaidTooLate), else by Release
//     (PaidUnknown).
//   - The sweeper (every instance's sync loop, every SyncInterval) reads
//     each shard's due marks <= now in batches of 100. For a unit on h,
//     expire.lua gives it back in its one step: ZREM the mark, drop the
//     entry, s+1, r<n:user>, ru+1, PUBLISH. For a unit borrowed from t,
//     expire.lua turns the due mark into the release mark "xn:user"
//     (score 0) in the same step as it removes it, and paid.lua refuses
//     from then on; then release.lua on t gives the unit back (tombstone,
//     s_t+1: a repeat does nothing), and unpaid.lua on h ZREMs the release
//     mark, once, and drops the entry (r<n:user>, ru+1). A sweeper that
//     dies between those steps leaves the release mark, which every sweep
//     picks up (score 0): expire.lua answers t again and the steps are
//     repeated, idempotently, by whichever instance comes next. The unit
//     comes back once, and ru counts it once.
//   - Release of a held unit (the backend's own failure) ZREMs the due
//     mark in unhold.lua, with the entry, so Held stays true and the
//     sweeper finds nothing. Releasing a unit whose release mark is set
//     is safe too: release.lua's tombstone returns the unit once, and
//     unpaid.lua then finds no entry and counts nothing.
//   - Async mode: the sweep retracts the order before the unit can sell
//     again, as every give-back does. For a unit on h, expire.lua drops
//     the entry in the step that gives the unit back (claim.lua then
//     finds no entry and, from r<n:user>, answers unpaid); for a borrowed
//     unit, expire.lua turns the entry's attempt id into R in the step
//     that sets the release mark, before release.lua gives the unit back
//     on t, so a sweeper that dies in between leaves an order no
//     forwarder claims. A D entry (claimed: being delivered, or
//     delivered) is retracted too, as by Release: the unit comes back at
//     its deadline unless paid, whatever the queue did, as in sync mode.
//     The deadline counts from admission, queue wait included.
//   - Counts: Held is the size of the due sets (due and release marks),
//     Paid and ReleasedUnpaid the sums of pd and ru. A Warm that changes
//     only PayWithin updates the meta key in place (not a new load); every
//     instance's sync loop sees it within SyncInterval. load.lua deletes
//     the due set with the ledgers.
//   - The sweeper covers the activities an instance has cached, warmed,
//     read Counts of, confirmed a payment for or been told of (Track: the
//     gateway tells it every configured activity at build), so every
//     serving instance sweeps every activity it serves, even after a
//     restart that came after the last sale.
//
// The memory store keeps the deadline in the held unit, under the user's
// ledger lock, which Paid and its sweeper (every 500 ms) take in turn, and
// so does CheckOrder, the in-process queue's held check before every send
// (memory_order.go): a unit swept or released is never followed by a send
// that checked after it.

// sweepBatch bounds how many due marks one shard yields per sweep pass;
// a full batch asks the sync loop for another pass at once.
const sweepBatch = 100

// dueArg is the deadline of a unit of a held now, in ms, as take.lua's
// and settle.lua's last argument.
func (r *RedisStore) dueArg(a *redisAct) string {
	return strconv.FormatInt(r.now().Add(a.payWithin).UnixMilli(), 10)
}

// runBg runs a shard script on the background client under Timeout.
func (r *RedisStore) runBg(ctx context.Context, op string, s *rueidis.Lua, keys, args []string) (int64, error) {
	cctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	return call(cctx, r.bg, op, s, keys, args)
}

// Replies of paid.lua.
const (
	paidNow     = 1
	paidAlready = 2
	paidTooLate = 3
	paidUnknown = 4
)

func (r *RedisStore) Paid(ctx context.Context, activity string, user []byte, seq int64) (PaidResult, error) {
	for attempt := 0; ; attempt++ {
		a, err := r.act(ctx, activity)
		if err != nil {
			return 0, err
		}
		if a == nil {
			return 0, ErrNotLoaded
		}
		r.sweepAlso(activity)
		version, n := splitSeq(seq)
		if version != a.version && attempt == 0 {
			r.drop(activity) // perhaps a newer load: read the spec again
			continue
		}
		if version != a.version || n <= 0 {
			return PaidUnknown, nil // a sequence number of another load
		}
		h := homeShard(user, a.shards)
		code, err := r.runBg(ctx, "paid", paidScript, a.keys[h], []string{a.verStr, strconv.FormatInt(n, 10), string(user)})
		if err != nil {
			return 0, err
		}
		switch code {
		case paidNow:
			return PaidNow, nil
		case paidAlready:
			return PaidAlready, nil
		case paidTooLate:
			return PaidTooLate, nil
		case paidUnknown:
			return PaidUnknown, nil
		case codeStale, codeNotLoaded:
			if attempt == 0 {
				r.drop(activity)
				continue
			}
			return 0, unavailable("paid", errStale)
		}
		return 0, unavailable("paid", errReply)
	}
}

// Tracker is a store whose pay_within sweeper must be told which
// activities to cover: the Redis store, on which an instance may serve an
// activity it has not touched yet (after a restart that came after the
// sale, say). The gateway tells it every configured activity at build.
type Tracker interface{ Track(activity string) }

var _ Tracker = (*RedisStore)(nil)

// Track makes the sweeper of this instance cover activity.
func (r *RedisStore) Track(activity string) { r.sweepAlso(activity) }

// sweepAlso makes the sweeper cover activity even while this instance has
// not cached it (an instance that restarted after the sale must still give
// back the units that go unpaid).
func (r *RedisStore) sweepAlso(activity string) {
	if ident.Valid(activity) {
		r.swept.Store(activity, struct{}{})
	}
}

// Sweep gives back the units whose deadline has passed unpaid on every
// activity this instance has cached or warmed, read the numbers of, or
// confirmed a payment for. Each unit is given back once, whichever
// instance's sweeper gets there first (expire.lua and unpaid.lua remove
// their mark exactly once). The sync loop runs it every SyncInterval.
func (r *RedisStore) Sweep(ctx context.Context) (int, error) {
	n, _, err := r.sweep(ctx)
	return n, err
}

// sweep also reports whether a shard had more due marks than one batch.
func (r *RedisStore) sweep(ctx context.Context) (released int, more bool, err error) {
	names := make(map[string]bool)
	for name := range *r.acts.Load() {
		names[name] = true
	}
	r.swept.Range(func(k, _ any) bool {
		names[k.(string)] = true
		return true
	})
	for name := range names {
		a, err := r.act(ctx, name)
		if err != nil {
			return released, more, err
		}
		if a == nil {
			continue
		}
		n, m, err := r.sweepActivity(ctx, a)
		released += n
		more = more || m
		if err != nil {
			return released, more, err
		}
	}
	return released, more, nil
}

func (r *RedisStore) sweepActivity(ctx context.Context, a *redisAct) (int, bool, error) {
	now := strconv.FormatInt(r.now().UnixMilli(), 10)
	cmds := make(rueidis.Commands, a.shards)
	for h := range cmds {
		cmds[h] = r.bg.B().Zrangebyscore().Key(a.keys[h][kDue]).Min("-inf").Max(now).Limit(0, sweepBatch).Build()
	}
	res, err := r.doMulti(ctx, "sweep", cmds)
	if err != nil {
		return 0, false, err
	}
	var released int
	var more bool
	for h, x := range res {
		marks, err := x.AsStrSlice()
		if err != nil {
			return released, more, unavailable("sweep", err)
		}
		more = more || len(marks) == sweepBatch
		for _, m := range marks {
			ok, err := r.expire(ctx, a, h, strings.TrimPrefix(m, "x"))
			if err != nil {
				return released, more, err
			}
			if ok {
				released++
			}
		}
	}
	return released, more, nil
}

// expire gives back purchase id ("n:user") of home shard h, due unpaid:
// expire.lua on h, and for a borrowed unit release.lua on its shard t,
// then unpaid.lua on h. It reports whether this call released it.
func (r *RedisStore) expire(ctx context.Context, a *redisAct, h int, id string) (bool, error) {
	n, user, ok := parseOrderID(id)
	if !ok {
		return false, nil // not a mark the scripts write: skipped, so it cannot stall the others
	}
	ns := strconv.FormatInt(n, 10)
	cctx, cancel := context.WithTimeout(ctx, r.timeout)
	res, err := expireScript.Exec(cctx, r.bg, a.keys[h],
		[]string{a.verStr, ns, user, a.idx[h], r.channel, stockMsg(a.name, h)}).AsIntSlice()
	cancel()
	if err != nil {
		return false, unavailable("sweep", err)
	}
	if len(res) == 0 {
		return false, unavailable("sweep", errReply)
	}
	switch res[0] {
	case 1:
		a.empty.clear(h)
		return true, nil
	case 2:
	default: // paid, released already, or another load
		return false, nil
	}
	if len(res) < 2 || res[1] < 0 || res[1] >= int64(a.shards) {
		return false, unavailable("sweep", errReply)
	}
	t := int(res[1])
	code, err := r.runBg(ctx, "sweep", releaseScript, a.keys[t], []string{a.verStr, id, r.channel, stockMsg(a.name, t)})
	switch {
	case err != nil:
		return false, err // the release mark stays: the next sweep resumes
	case code == codeAdmitted:
		a.empty.clear(t)
	case code != 0:
		return false, nil // another load: its ledger is gone anyway
	}
	code, err = r.runBg(ctx, "sweep", unpaidScript, a.keys[h], []string{a.verStr, ns, user})
	if err != nil {
		return false, err
	}
	return code == 1, nil
}

// sweepPass is the part of the sync loop that sweeps due units: at most
// once per SyncInterval, and again at once after a full batch.
func (r *RedisStore) sweepPass(ctx context.Context) {
	_, more, err := r.sweep(ctx)
	if err == nil && more {
		r.wake()
	}
}

// nowOrDefault is the store's clock: RedisOptions.Now or time.Now.
func nowOrDefault(f func() time.Time) func() time.Time {
	if f == nil {
		return time.Now
	}
	return f
}

// PayWithinSetter is a shared store whose activities' pay_within a
// reload changes in place (the Redis store; the memory store's is set by
// the Warm every build runs).
type PayWithinSetter interface {
	SetPayWithin(ctx context.Context, activity string, d time.Duration) (changed bool, err error)
}
