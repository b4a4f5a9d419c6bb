package stock

import (
	"context"
	"strconv"
)

// The three steps of a Take on the Redis store (doc.go, "Take: one
// script per step"), run by await's background side (a settler).

// take runs the three steps of a purchase (see doc.go) for attempt, under
// ctx alone. It runs on await's background side (a settler).
func (r *RedisStore) take(ctx context.Context, a *redisAct, u, attempt, order string) (Decision, error) {
	h := homeShard(u, a.shards)
	keys, args := a.keys[h][:syncKeys], []string{a.verStr, u, a.idx[h], attempt, a.puStr}
	if order != "" || a.payWithin > 0 {
		// async mode: the order, appended to h's Stream on admission;
		// pay_within: the deadline (ARGV[7], after an empty order).
		keys, args = a.keys[h], append(args, "")
		if order != "" {
			order = streamValue(a.verStr, order) // borrow.lua appends the same value
			args[5] = order
		}
		if a.payWithin > 0 {
			args = append(args, r.dueArg(a))
		}
	}
	v, short, err := r.admit(ctx, "take", takeWaited, keys, args)
	if err != nil {
		return Decision{}, err
	}
	n := v >> 3
	switch v & 7 {
	case codeAdmitted:
		d := Decision{Result: Admitted, Seq: makeSeq(a.version, n), Shard: h}
		if short {
			return r.unreplicated(ctx, a, h, d, u, attempt)
		}
		return d, nil
	case codeLimit:
		return Decision{Result: LimitReached}, nil
	case codeBorrow:
		a.empty.set(h)
		if short {
			// The pending entry itself may not survive a failover, and
			// with it the claim of whatever a borrow admits: fail closed,
			// abandon.lua rolls the entry back (complete queues it).
			r.stats.unreplicated.Add(1)
			return Decision{}, unavailable("take", errUnreplicated)
		}
		return r.borrow(ctx, a, h, u, n, order, attempt)
	case codeNotLoaded:
		r.shardMissing(a)
		return Decision{Result: NotLoaded}, nil
	case codeStale:
		return Decision{}, errStale
	case codeFenced:
		return Decision{}, unavailable("take", errAbandoned)
	}
	return Decision{}, unavailable("take", errReply)
}

// borrow looks for a unit on the other shards for the pending purchase n
// of user: first those not known empty, then, so that a stale bit never
// makes a SoldOut, those that were. It then settles on the home shard h.
func (r *RedisStore) borrow(ctx context.Context, a *redisAct, h int, u string, n int64, order, attempt string) (Decision, error) {
	id := orderID(n, u)
	args := []string{a.verStr, id}
	if order != "" {
		args = append(args, order)
	}
	var tried [MaxShards / 64]uint64
	for pass := 0; pass < 2; pass++ {
		for k := 1; k < a.shards; k++ {
			t := (h + k) % a.shards
			if tried[t>>6]&(1<<(t&63)) != 0 || (pass == 0 && a.empty.has(t)) {
				continue
			}
			tried[t>>6] |= 1 << (t & 63)
			code, short, err := r.admit(ctx, "borrow", borrowWaited, a.keys[t], args)
			if err != nil {
				return Decision{}, err
			}
			switch code {
			case codeAdmitted:
				d, err := r.settle(ctx, a, h, id, u, t, n)
				if err == nil && short && d.Result == Admitted {
					return r.unreplicated(ctx, a, h, d, u, attempt)
				}
				return d, err
			case codeEmpty:
				a.empty.set(t)
			case codeFenced:
				// Reconcile judged this purchase dead: give the allowance
				// back if it has not already.
				_, _ = r.settle(ctx, a, h, id, u, -1, n)
				return Decision{}, unavailable("borrow", errFenced)
			case codeStale, codeNotLoaded:
				return Decision{}, errStale
			default:
				return Decision{}, unavailable("borrow", errReply)
			}
		}
	}
	return r.settle(ctx, a, h, id, u, -1, n)
}

// settle records on h where the pending purchase ended: on shard t, or
// nowhere (t = -1, SoldOut).
func (r *RedisStore) settle(ctx context.Context, a *redisAct, h int, id, u string, t int, n int64) (Decision, error) {
	ts := "-1"
	if t >= 0 {
		ts = a.idx[t]
	}
	args := []string{a.verStr, id, u, ts, strconv.FormatInt(n, 10)}
	if t >= 0 && a.payWithin > 0 {
		args = append(args, r.dueArg(a))
	}
	code, err := call(ctx, r.c, "settle", settleScript, a.keys[h], args)
	if err != nil {
		return Decision{}, err
	}
	switch {
	case t >= 0 && code == 1:
		return Decision{Result: Admitted, Seq: makeSeq(a.version, n), Shard: t}, nil
	case t < 0 && (code == 2 || code == 0):
		return Decision{Result: SoldOut}, nil
	case code == codeStale || code == codeNotLoaded:
		return Decision{}, errStale
	}
	return Decision{}, unavailable("settle", errLostMark)
}
