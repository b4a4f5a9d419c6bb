// The warm lease: one Warm of an activity at a time, across every
// instance and operator.
//
// Warm's freeze-check-load steps are safe one after another (a Warm that
// died half-way is finished or replaced by the next), but two at once
// were not: one could read the sale unsold, the other load it and sell,
// and the first then load over those sales, which would sell their units
// again. So a Warm first takes the activity's lease, a key beside the
// meta key (SET NX PX, the same hash slot), and gives it back when it
// ends; a Warm that finds it taken answers ErrWarmBusy at once.
//
// The lease expires after warmLease, so a Warm that died keeps no one
// out for longer, and a living Warm is bounded well inside it (warmFor).
// Its expiry is not trusted alone: a lease is also lost to a process
// stalled past it, to a failover before the SET replicated, or to an
// eviction policy other than noeviction (it is the one key here with a
// TTL). So every write a Warm makes is fenced: meta.lua allocates a
// version only for the lease's holder, and above every version a shard
// holds; load.lua never goes back to or repeats a version and, without
// force, never resets a shard that sold in the version it holds; drop.lua
// never deletes a shard at the Warm's version or newer; the pay_within
// change checks the token. A Warm that lost its lease fails with an error
// saying so (matching ErrWarmBusy), at worst leaving a shard at its old
// version selling nothing, never a sale wiped.
package stock

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"
)

const (
	// warmLease is how long a Warm's lease lives without it.
	warmLease = 30 * time.Second
	// warmFor bounds a Warm (its thaws included: 2 × thawFor), so the
	// lease outlives the Warm that holds it by a margin.
	warmFor = warmLease - 5*time.Second
)

// warmKey is activity's lease key, in its meta key's hash slot.
func warmKey(prefix, activity string) string { return metaKey(prefix, activity) + ":warm" }

// busyError is ErrWarmBusy with the time the lease has left.
type busyError struct {
	activity string
	left     time.Duration
}

func (e *busyError) Error() string {
	return fmt.Sprintf("stock: another warm of activity %q is running: try again in a moment (it gives the lease back when it ends; if it died, the lease lapses in %s)",
		e.activity, max(e.left, time.Second).Round(time.Second))
}
func (e *busyError) Is(target error) bool { return target == ErrWarmBusy }

// RetryAfter is a second: a Warm usually ends in milliseconds, and the
// lease's time left (up to warmLease) only matters if its holder died.
func (e *busyError) RetryAfter() time.Duration { return time.Second }

// lostLeaseError: this Warm's lease ran out or was lost before it was
// done, and a newer Warm may have run; it stopped at what says.
type lostLeaseError struct {
	activity, what string
}

func (e *lostLeaseError) Error() string {
	return fmt.Sprintf("stock: this warm of activity %q lost its lease (after %s at most, or to a failover or an eviction), so another warm may have run since: %s; check the sale (its stock numbers) before warming again, above all with force",
		e.activity, warmLease, e.what)
}
func (e *lostLeaseError) Is(target error) bool { return target == ErrWarmBusy }

// takeLease takes activity's warm lease and returns its token, or an
// error matching ErrWarmBusy while another Warm holds it.
func (r *RedisStore) takeLease(ctx context.Context, activity string) (string, error) {
	var b [16]byte
	_, _ = rand.Read(b[:])
	token := hex.EncodeToString(b[:])
	cctx, cancel := context.WithTimeout(ctx, r.timeout)
	left, err := leaseScript.Exec(cctx, r.bg, []string{warmKey(r.prefix, activity)},
		[]string{token, strconv.FormatInt(warmLease.Milliseconds(), 10)}).AsInt64()
	cancel()
	switch {
	case err != nil:
		r.giveLease(activity, token) // it may have been taken with the answer lost
		return "", unavailable("warm", err)
	case left > 0:
		return "", &busyError{activity: activity, left: time.Duration(left) * time.Millisecond}
	}
	return token, nil
}

// holdsLease reports whether token still holds activity's lease; an
// error answers false (the caller then says the lease may be lost).
func (r *RedisStore) holdsLease(ctx context.Context, activity, token string) bool {
	cctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	v, err := r.bg.Do(cctx, r.bg.B().Get().Key(warmKey(r.prefix, activity)).Build()).ToString()
	return err == nil && v == token
}

// leaseHeld reports whether any Warm holds activity's lease.
func (r *RedisStore) leaseHeld(ctx context.Context, activity string) (bool, error) {
	cctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	n, err := r.bg.Do(cctx, r.bg.B().Exists().Key(warmKey(r.prefix, activity)).Build()).AsInt64()
	if err != nil {
		return false, unavailable("warm", err)
	}
	return n > 0, nil
}

// giveLease ends the lease taken with token, if it is still ours; a lease
// it cannot give back expires after warmLease.
func (r *RedisStore) giveLease(activity, token string) {
	ctx, cancel := context.WithTimeout(context.Background(), r.timeout) // the Warm's own context may be done
	defer cancel()
	_ = leaseReleaseScript.Exec(ctx, r.bg, []string{warmKey(r.prefix, activity)}, []string{token}).Error()
}
