package ratelimit

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"github.com/flashgate/flashgate/gateway"
	"github.com/flashgate/flashgate/internal/redisgcra"
)

// script is the shared GCRA (internal/redisgcra), also the async
// forwarders' delivery rate.
var script = redisgcra.Script

// breakerPause is how long a distributed limiter stops asking Redis after
// a failed call: during an outage each request is decided at once (locally
// or as unavailable) instead of each waiting out redis_timeout.
const breakerPause = 200 * time.Millisecond

// remote is the distributed half of a limiter.
type remote struct {
	client  rueidis.Client
	args    []string // interval and tolerance, microseconds
	head    []byte   // <prefix>rl:{
	tail    string   // } or }:<name>
	timeout time.Duration
	// over caches Redis's "no admission before t" per bucket: until then
	// the bucket is rejected without a round trip. It is exact, because a
	// rejection leaves the bucket unchanged and other instances can only
	// push its next admission later.
	over *table
	// fallback decides at rate/instances while Redis is failing, when
	// on_redis_error is "local"; nil for "deny".
	fallback  *table
	fallbackG gcra
	// downUntil is the clock reading before which Redis is not asked again.
	downUntil atomic.Int64
}

func newRemote(p params, client rueidis.Client, prefix, name string, activities int) *remote {
	rm := &remote{
		client:  client,
		args:    redisgcra.Args(p.rate, p.burst),
		head:    []byte(prefix + "rl:{"),
		tail:    "}",
		timeout: p.redisTimeout,
		over:    newTable(p.scope, activities, p.maxKeys),
	}
	if name != "" {
		rm.tail = "}:" + name
	}
	if p.onRedisError == "local" {
		share := p.rate / float64(p.instances)
		rm.fallbackG = newGCRA(share, max(1, p.burst/p.instances))
		rm.fallback = newTable(p.scope, activities, p.maxKeys)
	}
	return rm
}

// take decides a request through Redis: 0 when admitted, else the ns to
// wait; gateway.ErrUnavailable when Redis could not decide and there is no
// local fallback.
//
// The over-limit shortcut reads the clock after the bucket's mark, like a
// local decision (see clock): judged at the request's arrival time, a
// request delayed in the gateway was refused from memory although Redis
// had long been admitting again. The mark itself is the clock read before
// the call plus Redis's wait, so it never lies past the instant Redis will
// admit again: the shortcut refuses nothing Redis would admit.
func (rm *remote) take(s scope, r *gateway.Request, c *clock) (int64, error) {
	var buf [keyBufLen]byte
	until := rm.over.until(r, buf[:0])
	now := c.read()
	if until > now {
		return until - now, nil
	}
	if rm.downUntil.Load() > now {
		return rm.degraded(r, c)
	}
	key := string(redisKey(rm.head, s, r, rm.tail, buf[:0]))
	ctx, cancel := context.WithTimeout(context.Background(), rm.timeout)
	waitUS, err := script.Exec(ctx, rm.client, []string{key}, rm.args).AsInt64()
	cancel()
	if err != nil {
		rm.downUntil.Store(c.read() + int64(breakerPause))
		return rm.degraded(r, c)
	}
	if waitUS <= 0 {
		return 0, nil
	}
	wait := waitUS * int64(time.Microsecond)
	rm.over.raise(r, now+wait, buf[:0])
	return wait, nil
}

func (rm *remote) degraded(r *gateway.Request, c *clock) (int64, error) {
	if rm.fallback == nil {
		return 0, gateway.ErrUnavailable
	}
	var buf [keyBufLen]byte
	return rm.fallback.take(r, rm.fallbackG, c, buf[:0]), nil
}

func (rm *remote) sweep(now int64) {
	rm.over.sweep(now)
	if rm.fallback != nil {
		rm.fallback.sweep(now)
	}
}
