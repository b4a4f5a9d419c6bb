package ratelimit

import (
	"math"
	"sync/atomic"
)

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

// take admits a request at now (Unix ns) against the TAT in v. It returns
// 0 when admitted, else the ns until a request could be; retry is true
// when the slot was evicted meanwhile.
func (g gcra) take(v *atomic.Int64, now int64) (wait int64, retry bool) {
	for {
		old := v.Load()
		if old == evicted {
			return 0, true
		}
		next := max(old, now) + g.interval
		if w := next - now - g.tolerance; w > 0 {
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
