package stock

// This file is the caller's side of a Redis Take and its background
// side: await waits for the decision under Timeout, complete runs the
// scripts (take, borrow, settle in redis.go) under SettleTimeout and
// gives back what an abandoned Take was admitted.

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// takeOp is one Redis Take in flight. The caller waits on done while a
// settler (settlers.go) runs the scripts under SettleTimeout; state says
// which of the two owns the outcome, so exactly one acts on it.
type takeOp struct {
	state atomic.Uint32
	done  chan struct{} // capacity 1: the background side never blocks
	timer *time.Timer   // the caller's Timeout bound, reused with the op

	a       *redisAct
	user    string // a copy: the caller may reuse its buffer once it left
	attempt string // random id of this Take, sent to take.lua
	order   string // async mode: the order take.lua or borrow.lua appends; "" in sync mode
	d       Decision
	err     error
}

const (
	opWaiting   uint32 = iota // the caller waits
	opDelivered               // the caller has the outcome
	opAbandoned               // the caller left; the background side owns it
)

// ops are recycled, with their channel and timer, so that a Take costs no
// allocation for its own bookkeeping. An op goes back to the pool only from
// the side that owns it last.
var ops = sync.Pool{New: func() any {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &takeOp{done: make(chan struct{}, 1), timer: t}
}}

func (op *takeOp) recycle() {
	op.a, op.user, op.attempt, op.order, op.d, op.err = nil, "", "", "", Decision{}, nil
	ops.Put(op)
}

var (
	errClosed = &unavailableError{op: "take", cause: errors.New("stock: store closed")}
	errShed   = &unavailableError{op: "take", cause: errors.New("stock: too many Takes in flight")}
)

// await runs one Take against Redis. It returns when the decision arrives,
// when ctx is done or after within, whichever comes first; the scripts go
// on in the background until SettleTimeout, and whatever they decide after
// the caller left is undone (see complete).
func (r *RedisStore) await(ctx context.Context, a *redisAct, user []byte, order string, within time.Duration) (Decision, error) {
	if err := ctx.Err(); err != nil {
		return Decision{}, unavailable("take", err)
	}
	if within <= 0 {
		return Decision{}, unavailable("take", context.DeadlineExceeded)
	}
	if r.closed.Load() {
		return Decision{}, errClosed
	}
	if r.settling.Add(1) > r.maxSettling {
		r.settling.Add(-1)
		r.stats.shed.Add(1)
		return Decision{}, errShed
	}
	op := ops.Get().(*takeOp)
	op.state.Store(opWaiting)
	op.a, op.user, op.attempt, op.order = a, string(user), newAttempt(), order
	r.settlers.submit(op)

	// The bound needs a timer only when ctx ends later. The gateway passes
	// a ctx without a deadline unless its own bound is shorter (Bounded):
	// the timer is reused with op, where a ctx deadline costs a timer.
	var expired <-chan time.Time
	if dl, ok := ctx.Deadline(); !ok || time.Until(dl) > within {
		op.timer.Reset(within)
		expired = op.timer.C
	}
	var cause error
	select {
	case <-op.done:
		op.timer.Stop()
		return op.take()
	case <-ctx.Done():
		cause = ctx.Err()
	case <-expired:
		cause = context.DeadlineExceeded
	}
	op.timer.Stop()
	if op.state.CompareAndSwap(opWaiting, opAbandoned) {
		r.stats.abandoned.Add(1)
		return Decision{}, unavailable("take", cause)
	}
	<-op.done // delivered while we were giving up: the outcome is ours
	return op.take()
}

// take hands the delivered outcome to the caller and recycles op.
func (op *takeOp) take() (Decision, error) {
	d, err := op.d, op.err
	op.recycle()
	return d, err
}

// newAttempt is a random 64-bit Take id, in hex.
func newAttempt() string { return strconv.FormatUint(rand.Uint64(), 16) }

// complete is the background side of await, run by a settler (see
// settlers.go): it runs the scripts under SettleTimeout, then delivers
// the outcome or, if the caller has left, gives back a unit admitted
// meanwhile, the way Release does. An outcome that stays unknown (an
// error other than a stale spec) is queued for abandon.lua whoever owns
// it: the caller only learns ErrUnavailable.
func (r *RedisStore) complete(op *takeOp) {
	defer r.settling.Add(-1)
	d, err := r.take(r.deadlines.get(), op.a, op.user, op.attempt, op.order)
	if err != nil && err != errStale && err != errUnreplicatedTake {
		r.queue.push(r, abandonEntry{a: op.a, user: op.user, attempt: op.attempt})
	}
	op.d, op.err = d, err
	if op.state.CompareAndSwap(opWaiting, opDelivered) {
		op.done <- struct{}{} // op belongs to the caller from here on
		return
	}
	e := abandonEntry{a: op.a, user: op.user, attempt: op.attempt}
	op.recycle()
	if err == nil && d.Result == Admitted {
		r.giveBackAbandoned(e, d)
	}
}

// giveBackAbandoned returns the unit of a Take whose caller left before
// the decision. If Redis fails meanwhile, abandon.lua finishes the job
// from the held mark.
func (r *RedisStore) giveBackAbandoned(e abandonEntry, d Decision) {
	_, n := splitSeq(d.Seq)
	ctx, cancel := context.WithTimeout(r.ctx, r.settleTimeout)
	ok, err := r.giveBack(ctx, e.a, homeShard(e.user, e.a.shards), d.Shard, orderID(n, e.user), e.user, e.attempt)
	cancel()
	switch {
	case err != nil:
		r.queue.push(r, e)
	case ok:
		r.stats.compensated.Add(1)
	}
}

// statCounters are RedisStats as atomics, updated off the hot path only.
type statCounters struct {
	abandoned, compensated, lost, shed, unreplicated atomic.Uint64
}

// RedisStats are counters of one RedisStore since NewRedis, for metrics.
type RedisStats struct {
	// Abandoned counts Takes whose caller stopped waiting (its ctx or
	// Timeout) before the decision arrived. Their outcome is not lost: a
	// unit admitted meanwhile is given back and counted in Compensated.
	Abandoned uint64
	// Compensated counts units given back because no caller learned that
	// they were admitted: abandoned Takes, and outcomes settled later by
	// abandon.lua.
	Compensated uint64
	// Unresolved is how many unknown outcomes wait for abandon.lua now
	// (Redis did not answer within SettleTimeout, or failed part-way).
	Unresolved int
	// Lost counts unknown outcomes given up on because the queue was full
	// or the store closed: each may leave one unit held with no order, as
	// a gateway crash does, until the next forced Warm.
	Lost uint64
	// Shed counts Takes refused at once because MaxSettling were in flight.
	Shed uint64
	// Unreplicated counts Takes (WaitReplicas > 0) whose admitting script
	// fewer replicas acknowledged within WaitTimeout: answered
	// ErrUnavailable with the unit given back, unless a forwarder had
	// claimed the order already.
	Unreplicated uint64
}

// Stats returns the store's counters. It is cheap and safe to call from
// a metrics scrape.
func (r *RedisStore) Stats() RedisStats {
	return RedisStats{
		Abandoned:    r.stats.abandoned.Load(),
		Compensated:  r.stats.compensated.Load(),
		Unresolved:   r.queue.len(),
		Lost:         r.stats.lost.Load(),
		Shed:         r.stats.shed.Load(),
		Unreplicated: r.stats.unreplicated.Load(),
	}
}
