package ratelimit

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/flashgate/flashgate/gateway"
	"github.com/flashgate/flashgate/internal/retryafter"
)

// maxRetryAfter caps the Retry-After sent; pages for 1..maxRetryAfter s
// are built at start-up so a rejection renders nothing.
const maxRetryAfter = 60

// sweepEvery is how often idle keys are dropped.
const sweepEvery = 10 * time.Second

// params are the settings that shape a limiter; entries sharing a bucket
// namespace must agree on all of them.
type params struct {
	scope        scope
	rate         float64
	burst        int
	distributed  bool
	onRedisError string
	instances    int
	redisTimeout time.Duration
	maxKeys      int
}

// tableKey keeps one limiter per scope and name across reloads.
var tableKey = gateway.NewSharedKey[*limiter]("rate_limit")

// limiter is the state of one bucket namespace (scope + name), shared by
// every entry that names it through gateway.Keep and closed with the
// instance.
type limiter struct {
	p      params
	g      gcra
	local  *table  // nil when distributed
	remote *remote // nil when local

	clock *clock
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once
}

func newLimiter(p params, env *gateway.Env, name string) *limiter {
	l := &limiter{p: p, g: newGCRA(p.rate, p.burst), clock: newClock(env.Now)}
	n := len(env.AllActivities)
	if p.distributed {
		l.remote = newRemote(p, env.Redis, env.RedisPrefix(), name, n)
	} else {
		l.local = newTable(p.scope, n, p.maxKeys)
	}
	if p.scope == scopeIP || p.scope == scopeUser {
		l.stop, l.done = make(chan struct{}), make(chan struct{})
		go l.janitor()
	}
	return l
}

// take decides a request: 0 when admitted, else the ns to wait. It reads
// the limiter's clock at the decision and never r.Now (see clock).
func (l *limiter) take(r *gateway.Request) (int64, error) {
	if l.remote != nil {
		return l.remote.take(l.p.scope, r, l.clock)
	}
	var buf [keyBufLen]byte
	return l.local.take(r, l.g, l.clock, buf[:0]), nil
}

func (l *limiter) sweep(now int64) {
	if l.local != nil {
		l.local.sweep(now)
	}
	if l.remote != nil {
		l.remote.sweep(now)
	}
}

// janitor drops idle keys until Close.
func (l *limiter) janitor() {
	defer close(l.done)
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			l.sweep(l.clock.read())
		}
	}
}

// Close stops the janitor.
func (l *limiter) Close() error {
	if l.stop != nil {
		l.once.Do(func() { close(l.stop); <-l.done })
	}
	return nil
}

// filter is one rate_limit entry: a shared limiter and the pages of its
// reason, one per Retry-After second.
type filter struct {
	l     *limiter
	pages [maxRetryAfter + 1]*gateway.Page
}

// Build makes the filter, sharing its limiter with entries of the same
// scope and name.
func (c *Config) Build(env *gateway.Env) (gateway.Filter, error) {
	s := scopeByName[c.Scope]
	if s == scopeItem && len(env.Activities) == 0 {
		return nil, errors.New("scope: item needs {activity} in the route path")
	}
	if c.Distributed && env.Redis == nil {
		return nil, errors.New("distributed: true needs redis.addrs")
	}
	name := c.Name
	if name == "" && s != scopeGlobal {
		name = env.Path // unique per entry, and the same on every instance
		if name == "" {
			name = env.Route
		}
	}
	p := params{
		scope: s, rate: c.Rate, burst: c.burst(), distributed: c.Distributed, onRedisError: c.OnRedisError,
		instances: c.Instances, redisTimeout: c.RedisTimeout, maxKeys: c.MaxKeys,
	}
	if !p.distributed { // settings that only matter in Redis
		p.onRedisError, p.instances, p.redisTimeout = "", 0, 0
	}
	// A reload that leaves these settings alone keeps the buckets, so a
	// client that spent its burst does not get a new one from a reload.
	// The item scope indexes buckets by activity, so its buckets are kept
	// only while the activities stay in the same order.
	keep := keptAs{p: p}
	if s == scopeItem {
		keep.activities = activityOrder(env.AllActivities)
	}
	l, err := gateway.Keep(env, tableKey.With(s.String()+":"+name), keep, func() (*limiter, error) {
		return newLimiter(p, env, name), nil
	})
	if err != nil {
		return nil, err
	}
	if l.p != p {
		return nil, fmt.Errorf("shares the %s bucket %q with another rate_limit entry with other settings "+
			"(rate %v, burst %d, distributed %v); give this entry its own name", s, name, l.p.rate, l.p.burst, l.p.distributed)
	}
	f := &filter{l: l}
	for sec := 1; sec <= maxRetryAfter; sec++ {
		f.pages[sec], err = env.Page(gateway.PageSpec{
			Status: 429, Reason: "rate_limited_" + s.String(), Kind: "rate_limited", RetryAfter: sec,
			Message: "Too many requests. Please wait a moment and try again.",
		})
		if err != nil {
			return nil, err
		}
	}
	return f, nil
}

// keptAs is what a limiter's buckets depend on: equal across a reload,
// the new config takes the running limiter over.
type keptAs struct {
	p          params
	activities string
}

// activityOrder lists the activity ids by Activity.Index.
func activityOrder(all map[string]*gateway.Activity) string {
	ids := make([]string, len(all))
	for id, a := range all {
		if a.Index < len(ids) {
			ids[a.Index] = id
		}
	}
	return strings.Join(ids, "\x00")
}

// Handle admits the request or rejects it with Retry-After set to the
// whole seconds until its bucket has a token.
func (f *filter) Handle(r *gateway.Request) (gateway.Verdict, error) {
	wait, err := f.l.take(r)
	if err != nil {
		return gateway.Verdict{}, err
	}
	if wait <= 0 {
		return gateway.Pass, nil
	}
	return gateway.RejectWith(f.pages[retryAfter(wait)]), nil
}

// retryAfter is ceil(wait) in seconds, within 1..maxRetryAfter.
func retryAfter(wait int64) int {
	return min(retryafter.Seconds(time.Duration(wait)), maxRetryAfter)
}
