package stock

import (
	"context"
	"strconv"
	"strings"

	"github.com/redis/rueidis"
)

// Release on the Redis store (doc.go, "Release"): a give-back is its own
// concern, beside neither the warm-up nor the benchmark's TakeCommand.

// Release returns the unit in up to three steps: find the shard t that
// holds it (entry n of the user's record on the home shard h), give the
// unit back on t, then free the allowance on h. A unit taken on h itself
// is given back with the allowance in one step. A crash between the two
// steps of a borrowed unit leaves the user's allowance used with no unit:
// never an oversell, and a retried Release finishes the job.
func (r *RedisStore) Release(ctx context.Context, activity string, user []byte, seq int64) (bool, error) {
	a, h, n, rec, err := r.ledger(ctx, activity, user, seq)
	if err != nil || rec == "" {
		return false, err
	}
	u := string(user)
	t, ok := heldOnShard(rec, n)
	if !ok {
		return false, nil
	}
	if t < 0 || t >= a.shards {
		return false, unavailable("release", errReply)
	}
	return r.giveBack(ctx, a, h, t, orderID(n, u), u, "")
}

// ledger reads user's ledger record ("N;k,attempt,t;...", see
// lua/take.lua) on its home shard h of seq's load, with n, seq's purchase
// number. rec is "" when there is none: the activity is not loaded, seq
// is of another load, or the user never bought in this one.
func (r *RedisStore) ledger(ctx context.Context, activity string, user []byte, seq int64) (a *redisAct, h int, n int64, rec string, err error) {
	a, err = r.act(ctx, activity)
	if err != nil || a == nil {
		return nil, 0, 0, "", err
	}
	version, n := splitSeq(seq)
	if version != a.version {
		if a, err = r.reload(ctx, activity); err != nil || a == nil || version != a.version {
			return nil, 0, 0, "", err // a sequence number of another load: unknown
		}
	}
	h = homeShard(user, a.shards)
	cctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	rec, err = r.c.Do(cctx, r.c.B().Hget().Key(a.keys[h][kState]).Field(recordField(string(user))).Build()).ToString()
	if rueidis.IsRedisNil(err) {
		return nil, 0, 0, "", nil
	}
	if err != nil {
		return nil, 0, 0, "", unavailable("release", err)
	}
	return a, h, n, rec, nil
}

// Issued reports whether order (activity, user, seq) was ever admitted
// in the activity's current load: its purchase number is one the user's
// ledger record has issued (the record's first number is the last one
// issued). A release of an order that was not is a mistake the admin
// API names (404 unknown_order), where a repeat is not (200,
// released false).
func (r *RedisStore) Issued(ctx context.Context, activity string, user []byte, seq int64) (bool, error) {
	_, _, n, rec, err := r.ledger(ctx, activity, user, seq)
	if err != nil || rec == "" {
		return false, err
	}
	last, _, _ := strings.Cut(rec, ";")
	issued, err := strconv.ParseInt(last, 10, 64)
	return err == nil && n >= 1 && n <= issued, nil
}

// giveBack is the last steps of Release, also used for the units of
// abandoned Takes: claim.lua's retract on h (from then on no forwarder
// delivers the entry's queued order, see doc.go, async mode), for a
// borrowed unit release.lua on t (tombstone, INCR, PUBLISH), then
// unhold.lua on h, which for a unit on h does both. An abandoned Take
// passes its attempt: a unit whose order a forwarder already claimed stays
// sold. It reports whether the allowance was freed.
func (r *RedisStore) giveBack(ctx context.Context, a *redisAct, h, t int, id, u, attempt string) (bool, error) {
	n, _, ok := parseOrderID(id)
	if !ok {
		return false, unavailable("release", errReply)
	}
	ns := strconv.FormatInt(n, 10)
	code, err := r.retract(ctx, a, h, ns, u, attempt)
	if err != nil {
		return false, err
	}
	if code != retracted { // gone, pending, under delivery or another load: nothing to give back
		return false, nil
	}
	return r.returnUnit(ctx, a, h, t, id, ns, u)
}

// Replies of claim.lua's retract that its callers tell apart.
const (
	retracted = 1 // the entry is R: no forwarder delivers its order
	claimed   = 2 // a forwarder claimed it first (an attempt was given)
)

// retract is the first step of a give-back: claim.lua's retract of entry
// n (ns) on h, which only a claimed entry survives when attempt is set.
func (r *RedisStore) retract(ctx context.Context, a *redisAct, h int, ns, u, attempt string) (int64, error) {
	return r.runGiveBack(ctx, claimScript, a.keys[h], []string{a.verStr, ns, u, "r", attempt})
}

// runGiveBack runs one step of a give-back (claim.lua's retract,
// release.lua, unhold.lua). Each answers claimFrozen while a Warm's check
// has the shards frozen: an error to retry, never "nothing to give back",
// which a dead letter would take as done. An entry retracted before the
// freeze stays so: a retried Release, or the forwarder that checks it
// next (OrderRetracted), finishes the give-back.
func (r *RedisStore) runGiveBack(ctx context.Context, s *rueidis.Lua, keys, args []string) (int64, error) {
	code, err := r.run(ctx, "release", s, keys, args)
	if err == nil && code == claimFrozen {
		return 0, unavailable("release", errFrozen)
	}
	return code, err
}

// returnUnit is the rest of a give-back once the entry is retracted:
// release.lua on t for a borrowed unit, then unhold.lua on h.
func (r *RedisStore) returnUnit(ctx context.Context, a *redisAct, h, t int, id, ns, u string) (bool, error) {
	if t != h {
		code, err := r.runGiveBack(ctx, releaseScript, a.keys[t], []string{a.verStr, id, r.channel, stockMsg(a.name, t)})
		if err != nil {
			return false, err
		}
		if code == codeAdmitted {
			a.empty.clear(t)
		}
	}
	code, err := r.runGiveBack(ctx, unholdScript, a.keys[h],
		[]string{a.verStr, ns, u, a.idx[h], r.channel, stockMsg(a.name, h)})
	if err != nil {
		return false, err
	}
	if code == 3 {
		a.empty.clear(h)
	}
	return code == 1 || code == 3, nil
}
