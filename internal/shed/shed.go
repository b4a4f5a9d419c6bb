// Package shed is adaptive overload shedding for one route: beside the
// fixed server.max_inflight, a route sheds new requests (the caller answers
// the pre-rendered busy page) when its latency shows a standing queue, and
// then lets through only as many requests at once as it has shown it can
// complete.
//
// Two known ideas, combined:
//
//   - CoDel's test for a standing queue (Nichols and Jacobson, "Controlling
//     Queue Delay"): a queue is bad when even the fastest request of a whole
//     interval waited longer than the target. A burst that drains within
//     the interval does not trigger it; a queue that persists does.
//   - The BBR-style limit of sentinel-golang's system-adaptive rule and of
//     Kratos' BBR limiter: the route can hold maxPass × minRT requests in
//     flight (Little's law), where maxPass is the most requests completed
//     in one interval of the last window and minRT the lowest average
//     latency of an interval. While the standing-queue test holds, a new
//     request is shed when that many are already in flight.
//
// Shedding happens only at admission, before a route's chain runs, so a
// request that already holds a stock unit is never shed: it is past the
// point where Admit is asked.
//
// Everything is atomics on a ring of interval-long buckets; Admit and Done
// allocate nothing (BenchmarkShed, alloc_test.go). Decisions read the
// injected clock at the moment they are made.
package shed

import (
	"math"
	"sync/atomic"
	"time"
)

// Buckets is how many intervals the window keeps.
const Buckets = 10

// Settings configure a Shedder.
type Settings struct {
	// Target is the latency the route should keep, > 0.
	Target time.Duration
	// Interval is both CoDel's interval and the length of one bucket of
	// the window (Buckets × Interval), > 0.
	Interval time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

type bucket struct {
	epoch atomic.Int64 // interval number this bucket holds, -1 = none
	count atomic.Int64 // requests completed in it
	sum   atomic.Int64 // their latencies, ns
	min   atomic.Int64 // the lowest latency, ns
}

// Shedder decides for one route. A nil *Shedder never sheds.
type Shedder struct {
	target   int64
	interval int64
	now      func() time.Time

	inflight atomic.Int64
	limit    atomic.Int64 // 0 = not shedding
	judged   atomic.Int64 // the last interval number the limit was judged at
	buckets  [Buckets]bucket
}

// New returns a Shedder that is not shedding.
func New(s Settings) *Shedder {
	sh := &Shedder{target: int64(s.Target), interval: max(1, int64(s.Interval)), now: s.Now}
	if sh.now == nil {
		sh.now = time.Now
	}
	for i := range sh.buckets {
		sh.buckets[i].epoch.Store(-1)
	}
	sh.judged.Store(sh.epoch(sh.now().UnixNano()))
	return sh
}

func (s *Shedder) epoch(t int64) int64 { return t / s.interval }

// Admit reports whether a new request may enter the route now. When it
// may, the caller must call Done with the returned start once the answer
// is ready; a shed request needs no Done.
func (s *Shedder) Admit() (start int64, ok bool) {
	if s == nil {
		return 0, true
	}
	t := s.now().UnixNano()
	s.judge(s.epoch(t))
	if l := s.limit.Load(); l > 0 && s.inflight.Load() >= l {
		return 0, false
	}
	s.inflight.Add(1)
	return t, true
}

// Done records the latency of an admitted request.
func (s *Shedder) Done(start int64) {
	if s == nil {
		return
	}
	t := s.now().UnixNano()
	s.inflight.Add(-1)
	e := s.epoch(t)
	s.judge(e)
	b := &s.buckets[e%Buckets]
	if old := b.epoch.Load(); old != e && b.epoch.CompareAndSwap(old, e) {
		// A sample that raced the reset may be lost: these are statistics.
		b.count.Store(0)
		b.sum.Store(0)
		b.min.Store(math.MaxInt64)
	}
	lat := max(0, t-start)
	b.count.Add(1)
	b.sum.Add(lat)
	for m := b.min.Load(); lat < m && !b.min.CompareAndSwap(m, lat); m = b.min.Load() {
	}
}

// judge re-decides the limit once per interval, from the interval that
// just ended, when the first request of a new interval arrives or leaves.
func (s *Shedder) judge(e int64) {
	last := s.judged.Load()
	if e <= last || !s.judged.CompareAndSwap(last, e) {
		return
	}
	prev := &s.buckets[(e-1)%Buckets]
	if prev.epoch.Load() != e-1 || prev.count.Load() == 0 {
		// Nothing finished in the last interval: no evidence either way,
		// keep the decision (a route whose requests are all stuck keeps
		// shedding until they finish or time out).
		return
	}
	if prev.min.Load() <= s.target {
		s.limit.Store(0) // no standing queue
		return
	}
	s.limit.Store(s.capacity(e))
}

// capacity is maxPass × minRT over the window's finished intervals, in
// requests in flight, at least 1.
func (s *Shedder) capacity(e int64) int64 {
	var maxPass int64
	minRT := int64(math.MaxInt64)
	for i := range s.buckets {
		b := &s.buckets[i]
		ep := b.epoch.Load()
		if ep >= e || ep < e-Buckets {
			continue // the current interval, or outside the window
		}
		n := b.count.Load()
		if n == 0 {
			continue
		}
		maxPass = max(maxPass, n)
		minRT = min(minRT, b.sum.Load()/n)
	}
	if maxPass == 0 {
		return 1
	}
	// maxPass per interval × minRT / interval, rounded up.
	return max(1, (maxPass*minRT+s.interval-1)/s.interval)
}

// Limit is the in-flight bound now in force, 0 when not shedding (for
// metrics and tests).
func (s *Shedder) Limit() int64 {
	if s == nil {
		return 0
	}
	return s.limit.Load()
}

// Inflight is how many admitted requests have not called Done.
func (s *Shedder) Inflight() int64 {
	if s == nil {
		return 0
	}
	return s.inflight.Load()
}
