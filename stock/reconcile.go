package stock

import (
	"context"
	"errors"
	"strconv"
	"time"
)

// reconcileBatch bounds how many pending marks one shard yields per pass.
const reconcileBatch = 100

// Reconcile resolves the pending marks older than RedisOptions.PendingAge
// on every activity this instance has cached: marks left by a Take that
// died (crash, timeout) between take.lua and settle.lua. It returns how
// many marks it resolved. The sync loop runs it every PendingAge/2.
//
// For each mark (user, n) on home shard h it probes every shard with
// fence.lua: a shard that holds a live order for (user, n) means the
// borrow succeeded, and the mark is settled as held there; a shard without
// one gets a tombstone first, so a borrow still in flight can no longer
// succeed behind Reconcile's back. Only when no shard holds the order is
// the mark rolled back and the allowance returned. Because of the
// tombstones the verdict is right whatever the mark's age; settle.lua's
// ZREM makes sure only one of Take and Reconcile acts on the mark.
func (r *RedisStore) Reconcile(ctx context.Context) (int, error) {
	return r.reconcile(ctx, r.pendingAge)
}

func (r *RedisStore) reconcile(ctx context.Context, age time.Duration) (int, error) {
	var total int
	var errs []error
	for _, a := range *r.acts.Load() {
		n, err := r.reconcileActivity(ctx, a, age)
		total += n
		if err != nil {
			errs = append(errs, err)
		}
	}
	return total, errors.Join(errs...)
}

func (r *RedisStore) reconcileActivity(ctx context.Context, a *redisAct, age time.Duration) (int, error) {
	ageMS := strconv.FormatInt(age.Milliseconds(), 10)
	limit := strconv.Itoa(reconcileBatch)
	var done int
	for h := range a.shards {
		cctx, cancel := context.WithTimeout(ctx, r.timeout)
		ids, err := pendingScript.Exec(cctx, r.bg, a.keys[h], []string{a.verStr, ageMS, limit}).AsStrSlice()
		cancel()
		if err != nil {
			return done, unavailable("reconcile", err)
		}
		for _, id := range ids {
			if err := r.resolve(ctx, a, h, id); err != nil {
				return done, err
			}
			done++
		}
	}
	return done, nil
}

// resolve settles or rolls back the pending mark id on home shard h.
func (r *RedisStore) resolve(ctx context.Context, a *redisAct, h int, id string) error {
	n, user, ok := parseOrderID(id)
	if !ok {
		return unavailable("reconcile", errReply)
	}
	found := -1
	args := []string{a.verStr, id}
	// Probe h too: cheap, and it makes the verdict independent of which
	// shards a Take would have tried.
	for k := 0; k < a.shards && found < 0; k++ {
		t := (h + k) % a.shards
		code, err := r.run(ctx, "reconcile", fenceScript, a.keys[t], args)
		if err != nil {
			return err
		}
		switch code {
		case 1:
			found = t
		case 0:
		default: // re-warmed meanwhile: the ledger is gone anyway
			return nil
		}
	}
	ts := "-1"
	if found >= 0 {
		ts = a.idx[found]
	}
	settle := []string{a.verStr, id, user, ts, strconv.FormatInt(n, 10)}
	if found >= 0 && a.payWithin > 0 {
		settle = append(settle, r.dueArg(a)) // the deadline counts from the hold
	}
	_, err := r.run(ctx, "reconcile", settleScript, a.keys[h], settle)
	return err
}
