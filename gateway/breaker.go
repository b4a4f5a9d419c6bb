package gateway

import (
	"sync/atomic"
	"time"
)

// breaker is a consecutive-failure circuit breaker for one upstream. When
// the backend keeps failing, the routes that proxy to it answer 503 at
// once, before their chain runs: no stock is taken for orders that could
// not be delivered, and the crowd does not queue on a dead backend.
// Lock-free: three atomics, read on every request.
type breaker struct {
	threshold int64
	openFor   int64 // ns
	fails     atomic.Int64
	openUntil atomic.Int64 // unix ns; 0 = closed
	probeAt   atomic.Int64 // unix ns of the last probe let through
}

func newBreaker(failures int, open time.Duration) *breaker {
	if failures <= 0 {
		return nil
	}
	return &breaker{threshold: int64(failures), openFor: int64(open)}
}

// allow reports whether a request may go on. While open it refuses; once
// the open period is over it lets one probe through per period (a probe
// whose request never reached the backend, rejected by a filter, does not
// block the next period's).
func (b *breaker) allow(now time.Time) bool {
	if b == nil {
		return true
	}
	until := b.openUntil.Load()
	if until == 0 {
		return true
	}
	t := now.UnixNano()
	if t < until {
		return false
	}
	last := b.probeAt.Load()
	return t-last >= b.openFor && b.probeAt.CompareAndSwap(last, t)
}

// retryAfter is how long until the breaker lets a probe through, in whole
// seconds, at least 1.
func (b *breaker) retryAfter(now time.Time) int {
	d := time.Duration(b.openUntil.Load() - now.UnixNano())
	return max(1, int((d+time.Second-1)/time.Second))
}

// record counts an exchange's outcome: a success closes the breaker; the
// threshold-th consecutive failure (or a failed probe) opens it.
func (b *breaker) record(ok bool, now time.Time) {
	if b == nil {
		return
	}
	if ok {
		if b.fails.Load() != 0 {
			b.fails.Store(0)
		}
		if b.openUntil.Load() != 0 {
			b.openUntil.Store(0)
		}
		return
	}
	n := b.fails.Add(1)
	if n >= b.threshold || b.openUntil.Load() != 0 {
		b.openUntil.Store(now.UnixNano() + b.openFor)
	}
}

// open reports whether the breaker refuses requests now (for metrics).
func (b *breaker) open(now time.Time) bool {
	return b != nil && b.openUntil.Load() > now.UnixNano()
}
