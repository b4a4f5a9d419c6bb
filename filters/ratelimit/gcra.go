package ratelimit

import (
	"math"
	"reflect"
	"sync/atomic"
	"time"
)

// clock is what a limiter decides with: nanoseconds since the limiter was
// built, read at the moment of each decision.
//
// Not the request's arrival time (ctx.Time()): under load requests reach a
// shared bucket out of order, and a request judged at its older arrival
// time sees the admissions of later arrivals as a burst it must not join.
// At rate 1e9 with burst 1e6 (a tolerance of 1 ms) that refused about 1 in
// 12,000 requests from 64 goroutines on 2 cores, a limit nothing reached.
// Reading the clock after loading the bucket's TAT makes that impossible:
// every time that moved the TAT was read before ours.
//
// The reading is monotonic, so a wall-clock step neither frees nor
// freezes a bucket. On the real clock it is time.Since(epoch), which reads
// only the monotonic clock: 30 ns here against 54 ns for time.Now().Sub
// (which reads the wall clock too), measured on this 2-core machine. Tests
// inject another now and are read through it.
type clock struct {
	now   func() time.Time // nil: the real clock
	epoch time.Time
}

func newClock(now func() time.Time) *clock {
	c := &clock{epoch: now()}
	if reflect.ValueOf(now).Pointer() != reflect.ValueOf(time.Now).Pointer() {
		c.now = now
	}
	return c
}

// read is the time now, in ns since the epoch (>= 0 for a real clock).
func (c *clock) read() int64 {
	if c.now == nil {
		return int64(time.Since(c.epoch))
	}
	return int64(c.now().Sub(c.epoch))
}

// gcra is the generic cell rate algorithm: a bucket is one number, its
// theoretical arrival time (TAT), so a limit costs one atomic int64 per key
// and a compare-and-swap per request, with no lock and no refill timer.
// A request at now is admitted when max(TAT, now) + interval lies no more
// than tolerance = burst × interval ahead of now; an idle bucket therefore
// admits exactly burst requests at once, then one per interval.
type gcra struct {
	interval  int64 // ns between admissions at the sustained rate
	tolerance int64 // burst × interval, ns
}

// maxSpan keeps interval and tolerance far from int64 overflow when added
// to a Unix time in ns (about 11.6 days).
const maxSpan = int64(1e15)

func newGCRA(rate float64, burst int) gcra {
	iv := clampSpan(1e9 / rate)
	return gcra{interval: iv, tolerance: clampSpan(float64(burst) * float64(iv))}
}

func clampSpan(f float64) int64 {
	if f >= float64(maxSpan) || math.IsNaN(f) {
		return maxSpan
	}
	return max(1, int64(math.Round(f)))
}

// evicted marks a slot dropped from its table; a request that finds it
// looks the key up again.
const evicted = math.MinInt64

// decide judges a request at now against the TAT tat: the TAT after an
// admission, and the ns to wait (> 0 means refused, TAT unchanged). The
// TAT only moves forward: max(tat, now) + interval.
func (g gcra) decide(tat, now int64) (next, wait int64) {
	next = max(tat, now) + g.interval
	return next, next - now - g.tolerance
}

// take admits a request against the TAT in v, reading the clock after
// each load of v (see clock). It returns 0 when admitted, else the ns
// until a request could be; retry is true when the slot was evicted
// meanwhile.
func (g gcra) take(v *atomic.Int64, c *clock) (wait int64, retry bool) {
	for {
		old := v.Load()
		if old == evicted {
			return 0, true
		}
		next, w := g.decide(old, c.read())
		if w > 0 {
			return w, false
		}
		if v.CompareAndSwap(old, next) {
			return 0, false
		}
	}
}

// slot is one bucket. In a local limiter it holds the TAT; in the
// over-limit cache of a distributed limiter, the instant before which
// Redis will admit nothing for the key. Zero means a fresh bucket.
type slot struct {
	v atomic.Int64
}

// paddedSlot keeps hot buckets (global, route, item) on their own cache
// line, so limiting one item does not slow another.
type paddedSlot struct {
	slot
	_ [56]byte
}

// raise moves the slot's value up to until (never down).
func raise(v *atomic.Int64, until int64) (retry bool) {
	for {
		old := v.Load()
		if old == evicted {
			return true
		}
		if old >= until || v.CompareAndSwap(old, until) {
			return false
		}
	}
}
