package stock

import (
	"context"
	"strconv"
)

// The held-mark check of async mode (claim.lua, see doc.go): before a
// forwarder sends a queued order it asks whether the order's unit is
// still held, peeking while the order waits and claiming right before
// the send.

// OrderCheck is claim.lua's verdict on a queued order.
type OrderCheck uint8

const (
	// OrderDeliver: the unit is held, now claimed for delivery.
	OrderDeliver OrderCheck = iota + 1
	// OrderRedeliver: claimed before (by a consumer that may have sent
	// it): deliver again, with the same Idempotency-Key.
	OrderRedeliver
	// OrderPending: the Take has not settled yet; check again shortly.
	OrderPending
	// OrderGone: the unit was given back (released, abandoned, rolled
	// back): drop the order.
	OrderGone
	// OrderReset: a forced re-Warm reset the sale since: drop the order.
	OrderReset
	// OrderUnpaid: like OrderGone, the unit was given back (or its
	// give-back begun) because its pay_within deadline passed unpaid.
	OrderUnpaid
	// OrderRetracted: a give-back began (the entry is retracted) and did
	// not finish: its caller stopped, died or timed out between the
	// retract and the unit's return. Finish it with Release (idempotent),
	// then drop the order as OrderGone: nobody else would give the unit
	// and the user's allowance back.
	OrderRetracted
)

// orderLoad is the load and home shard a queued order's check runs on;
// when there is none to run it on, done is true with the answer: a
// malformed entry is gone, one of another load was reset.
func (r *RedisStore) orderLoad(ctx context.Context, q *QueuedOrder) (a *redisAct, h int, answer OrderCheck, done bool, err error) {
	if q.User == "" {
		return nil, 0, OrderGone, true, nil
	}
	a, err = r.act(ctx, q.Activity)
	if err == nil && a != nil && a.version != q.Version {
		a, err = r.reload(ctx, q.Activity)
	}
	if err != nil {
		return nil, 0, 0, true, err
	}
	if a == nil || a.version != q.Version {
		return nil, 0, OrderReset, true, nil
	}
	return a, homeShard(q.User, a.shards), 0, false, nil
}

// Peek is Check without the claim: what Check would answer now, writing
// nothing. A forwarder peeks while an order waits for its rate slot and
// claims (Check) only right before the send, so a claim mark (D) means a
// send was about to start: an instance taking the order over then knows
// it may be at the backend, and one that finds no mark knows it is not.
// With redis.wait_replicas it also waits, as Check does, for the replicas
// to have the admission (OrderPending until then), so that an order waits
// for them before it takes a rate slot, not with one.
func (r *RedisStore) Peek(ctx context.Context, q *QueuedOrder) (OrderCheck, error) {
	a, h, answer, done, err := r.orderLoad(ctx, q)
	if done {
		return answer, err
	}
	code, err := r.peek(ctx, a, h, q)
	if err != nil || code != 1 || r.waitReplicas == 0 {
		return orderCheck(code, err)
	}
	if ok, err := r.replicated(ctx, a, q.Shard, h); err != nil || !ok {
		return OrderPending, err
	}
	return OrderDeliver, nil
}

// HeldNow is Peek for an order known by its sequence number, without the
// replicas' wait: what the poll of an order dead-lettered unconfirmed
// asks, since an admin release (or its pay_within deadline) may have
// given its unit back after the dead letter. OrderGone or OrderUnpaid
// then; OrderDeliver or OrderRedeliver while the unit is still sold.
func (r *RedisStore) HeldNow(ctx context.Context, activity, user string, seq int64) (OrderCheck, error) {
	version, n := splitSeq(seq)
	q := &QueuedOrder{Activity: activity, Version: version, N: n, User: user}
	a, h, answer, done, err := r.orderLoad(ctx, q)
	if done {
		return answer, err
	}
	return orderCheck(r.peek(ctx, a, h, q))
}

// peek runs claim.lua in its read-only mode p on the order's home shard.
func (r *RedisStore) peek(ctx context.Context, a *redisAct, h int, q *QueuedOrder) (int64, error) {
	cctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	return call(cctx, r.bg, "claim", claimScript, a.keys[h], []string{a.verStr, strconv.FormatInt(q.N, 10), q.User, "p", ""})
}

// Check runs claim.lua on the order's home shard (see doc.go, async mode).
func (r *RedisStore) Check(ctx context.Context, q *QueuedOrder) (OrderCheck, error) {
	a, h, answer, done, err := r.orderLoad(ctx, q)
	if done {
		return answer, err
	}
	args := []string{a.verStr, strconv.FormatInt(q.N, 10), q.User, "c", ""}
	if r.waitReplicas > 0 {
		// Claim only what the replicas have (replicas.go); a verdict
		// other than "claim it" needs no probe.
		args[3] = "p"
		cctx, cancel := context.WithTimeout(ctx, r.timeout)
		code, err := call(cctx, r.bg, "claim", claimScript, a.keys[h], args)
		cancel()
		if err != nil || code != 1 {
			return orderCheck(code, err)
		}
		if ok, err := r.replicated(ctx, a, q.Shard, h); err != nil || !ok {
			return OrderPending, err // not yet: the Take may still give it back
		}
		args[3] = "c"
	}
	cctx, cancel := context.WithTimeout(ctx, r.timeout)
	code, err := call(cctx, r.bg, "claim", claimScript, a.keys[h], args)
	cancel()
	return orderCheck(code, err)
}

// claim.lua's replies beside orderCheck's: a retracted entry whose
// give-back did not finish, and a shard frozen by a Warm.
const (
	claimRetracted = 8
	claimFrozen    = 9
)

// orderCheck reads claim.lua's reply.
func orderCheck(code int64, err error) (OrderCheck, error) {
	if err != nil {
		return 0, err
	}
	switch code {
	case 1:
		return OrderDeliver, nil
	case 2:
		return OrderRedeliver, nil
	case 3, claimFrozen: // settling, or a Warm's check under way
		return OrderPending, nil
	case 0:
		return OrderGone, nil
	case 7:
		return OrderUnpaid, nil
	case claimRetracted:
		return OrderRetracted, nil
	case codeStale, codeNotLoaded:
		return OrderReset, nil
	}
	return 0, unavailable("claim", errReply)
}
