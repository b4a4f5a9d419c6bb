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
// Its expiry is not trusted alone: meta.lua allocates a load version only
// for the lease's holder, and load.lua never reloads a shard that sold in
// the version it holds (force aside) nor one at the same or a newer
// version. A Warm stalled past its lease (a paused process) so fails, or
// at worst leaves a shard unsold at its old version, selling nothing: it
// never wipes a sale.
package stock

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/redis/rueidis"
)

const (
	// warmLease is how long a Warm's lease lives without it.
	warmLease = 30 * time.Second
	// warmFor bounds a Warm (its thaws included: 2 × thawFor), so the
	// lease outlives the Warm that holds it by a margin.
	warmFor = warmLease - 5*time.Second
)

var leaseReleaseScript = rueidis.NewLuaScript(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`)

// warmKey is activity's lease key, in its meta key's hash slot.
func warmKey(prefix, activity string) string { return metaKey(prefix, activity) + ":warm" }

// busyError is ErrWarmBusy with the time the lease has left.
type busyError struct {
	activity string
	left     time.Duration
}

func (e *busyError) Error() string {
	return fmt.Sprintf("stock: another warm of activity %q is running (or died within the last %s): try again in %s",
		e.activity, warmLease, e.left.Round(time.Second))
}
func (e *busyError) Is(target error) bool { return target == ErrWarmBusy }

// RetryAfter is the lease's time left, at least a second.
func (e *busyError) RetryAfter() time.Duration { return max(e.left, time.Second) }

// takeLease takes activity's warm lease and returns its token, or an
// error matching ErrWarmBusy while another Warm holds it.
func (r *RedisStore) takeLease(ctx context.Context, activity string) (string, error) {
	var b [16]byte
	_, _ = rand.Read(b[:])
	token := hex.EncodeToString(b[:])
	key := warmKey(r.prefix, activity)
	cctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	res := r.bg.DoMulti(cctx,
		r.bg.B().Set().Key(key).Value(token).Nx().Px(warmLease).Build(),
		r.bg.B().Pttl().Key(key).Build())
	if err := res[0].Error(); err == nil {
		return token, nil
	} else if !rueidis.IsRedisNil(err) {
		return "", unavailable("warm", err)
	}
	ms, _ := res[1].AsInt64()
	return "", &busyError{activity: activity, left: time.Duration(ms) * time.Millisecond}
}

// giveLease ends the lease taken with token, if it is still ours; a lease
// it cannot give back expires after warmLease.
func (r *RedisStore) giveLease(activity, token string) {
	ctx, cancel := context.WithTimeout(context.Background(), r.timeout) // the Warm's own context may be done
	defer cancel()
	_ = leaseReleaseScript.Exec(ctx, r.bg, []string{warmKey(r.prefix, activity)}, []string{token}).Error()
}
