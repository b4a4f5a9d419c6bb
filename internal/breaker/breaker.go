// Package breaker is flashgate's circuit breaker: closed, open, half-open,
// with a generation counter and a bounded number of half-open probes. One
// Breaker guards each upstream, and one guards the request path's Redis.
//
// Use it in two steps, so that the decision and the outcome can sit in
// different places (a route gate decides before the chain runs; the proxy
// reports after the exchange):
//
//	t, ok := b.Allow()
//	if !ok { answer 503 at once }
//	... do the call ...
//	b.Done(t, breaker.Success) // or Failure, or Ignore
//
// Every Ticket that Allow admitted must be given to Done exactly once;
// Ignore is the outcome of a call that never reached the dependency (the
// request was turned away by a filter, or the local connection pool was
// full), which frees its half-open probe slot without judging anything.
//
// # Why not sony/gobreaker/v2
//
// gobreaker is the model (generation counter, MaxRequests probes in
// half-open), but it does not fit the request path: it reads time.Now()
// inside (no injectable clock, so tests would sleep), takes a mutex twice
// per request, and its two-step Allow returns a closure per call.
// BenchmarkAllowDone (breaker_bench_test.go, `go test -bench AllowDone
// -count 3 ./internal/breaker`) on the shared 2-core dev machine, closed
// state, RunParallel on 2 goroutines:
//
//	breaker (this package)     3.0-4.1 ns/op   0 B/op   0 allocs/op
//	gobreaker v2.4.0 TwoStep   173-219 ns/op  48 B/op   1 allocs/op
//
// Here the closed-state Allow is one atomic load, a success with no
// failure pending writes nothing, and the state, the generation and the
// counters live in one atomic word, so that a late outcome can never touch
// a newer generation's counters. Only state changes take the mutex.
package breaker

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/flashgate/flashgate/internal/retryafter"
)

// State is the breaker's state.
type State uint8

const (
	// Closed lets every request through and counts consecutive failures.
	Closed State = iota
	// Open refuses every request until OpenFor has passed.
	Open
	// HalfOpen lets at most Probes requests through at once; Probes
	// successes close the breaker, the first failure opens it again.
	HalfOpen
)

var stateNames = [...]string{"closed", "open", "half_open"}

// String is the snake_case name used in metrics and the README.
func (s State) String() string { return stateNames[s] }

// Outcome is what happened to an admitted call.
type Outcome uint8

const (
	// Success: the dependency answered (for an upstream, any status
	// below 500).
	Success Outcome = iota
	// Failure: the dependency failed or did not answer in time.
	Failure
	// Ignore: the call never reached the dependency, so it says nothing
	// about its health (turned away before, or the gateway's own pool was
	// full). It frees a half-open probe slot.
	Ignore
)

// Ticket is Allow's receipt, returned by value: the generation it was
// admitted in, and whether it holds a half-open probe slot.
type Ticket struct {
	gen   uint64
	probe bool
	valid bool
}

// Settings configure a Breaker.
type Settings struct {
	// Failures is how many consecutive failures open the breaker, >= 1.
	Failures int
	// OpenFor is how long it stays open before half-open, > 0.
	OpenFor time.Duration
	// Probes is how many requests half-open lets through at once, and
	// how many successes close it again. 1..maxProbes.
	Probes int
	// Now is the clock, read at the moment of each decision; nil means
	// time.Now. Tests inject one so that they need no sleeps.
	Now func() time.Time
}

// MaxProbes bounds Settings.Probes and Settings.Failures' counter field.
const MaxProbes = 1<<16 - 1

// The state word: state in bits 0-1, then two 16-bit counters, then the
// generation. Closed uses the first counter for consecutive failures (up
// to 2^32 with both); half-open uses it for probes in flight and the
// second for successful probes.
const (
	stateMask  = 3
	c1Shift    = 2
	c2Shift    = 18
	genShift   = 34
	counterMax = 1<<16 - 1
	failMask   = 1<<32 - 1
)

func word(s State, c1, c2, gen uint64) uint64 {
	return uint64(s) | c1<<c1Shift | c2<<c2Shift | gen<<genShift
}

func unpack(w uint64) (s State, c1, c2, gen uint64) {
	return State(w & stateMask), w >> c1Shift & counterMax, w >> c2Shift & counterMax, w >> genShift
}

// Breaker is safe for concurrent use. The zero value is not usable; a nil
// *Breaker is a disabled one that admits everything.
type Breaker struct {
	failures  uint64
	openFor   int64
	probes    uint64
	now       func() time.Time
	w         atomic.Uint64
	openUntil atomic.Int64 // unix ns; meaningful while Open
	mu        sync.Mutex   // serialises state changes only
	onChange  func(from, to State)
}

// New returns a closed breaker.
func New(s Settings) *Breaker {
	b := &Breaker{
		failures: uint64(max(1, s.Failures)),
		openFor:  int64(s.OpenFor),
		probes:   uint64(min(max(1, s.Probes), MaxProbes)),
		now:      s.Now,
	}
	if b.now == nil {
		b.now = time.Now
	}
	return b
}

// OnChange sets a function called (under the breaker's lock, so keep it
// short) on every state change, for metrics. Set it before use.
func (b *Breaker) OnChange(f func(from, to State)) { b.onChange = f }

// Allow reports whether a call may go ahead now. When it may, the Ticket
// must be given to Done exactly once.
func (b *Breaker) Allow() (Ticket, bool) {
	if b == nil {
		return Ticket{}, true
	}
	for {
		w := b.w.Load()
		s, c1, c2, gen := unpack(w)
		switch s {
		case Closed:
			return Ticket{gen: gen, valid: true}, true
		case Open:
			if b.now().UnixNano() < b.openUntil.Load() {
				return Ticket{}, false
			}
			b.transition(w, HalfOpen)
		case HalfOpen:
			if c1+c2 >= b.probes {
				return Ticket{}, false
			}
			if b.w.CompareAndSwap(w, word(HalfOpen, c1+1, c2, gen)) {
				return Ticket{gen: gen, probe: true, valid: true}, true
			}
		}
	}
}

// Done reports the outcome of a call Allow admitted. An outcome from an
// older generation (the call began before the breaker last changed state)
// is ignored: a success that started before the breaker opened does not
// close it, and a failure from before it closed does not count.
func (b *Breaker) Done(t Ticket, o Outcome) {
	if b == nil || !t.valid {
		return
	}
	for {
		w := b.w.Load()
		s, c1, c2, gen := unpack(w)
		if gen != t.gen {
			return
		}
		switch s {
		case Closed:
			fails := w >> c1Shift & failMask
			switch {
			case o == Success && fails != 0:
				if b.w.CompareAndSwap(w, word(Closed, 0, 0, gen)) {
					return
				}
				continue
			case o != Failure:
				return
			case fails+1 >= b.failures:
				if b.transition(w, Open) {
					return
				}
				continue
			}
			if b.w.CompareAndSwap(w, uint64(Closed)|(fails+1)<<c1Shift|gen<<genShift) {
				return
			}
		case HalfOpen:
			if !t.probe || c1 == 0 {
				return
			}
			switch o {
			case Failure:
				if b.transition(w, Open) {
					return
				}
			case Success:
				if c2+1 >= b.probes {
					if b.transition(w, Closed) {
						return
					}
					continue
				}
				if b.w.CompareAndSwap(w, word(HalfOpen, c1-1, c2+1, gen)) {
					return
				}
			case Ignore:
				if b.w.CompareAndSwap(w, word(HalfOpen, c1-1, c2, gen)) {
					return
				}
			}
		default: // Open: nothing admitted in this generation
			return
		}
	}
}

// transition moves from the state word from to state to, in a new
// generation, unless another caller changed the word first; it reports
// whether it did.
func (b *Breaker) transition(from uint64, to State) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.w.Load() != from {
		return false
	}
	if to == Open {
		// Stored before the word, so whoever sees Open sees its deadline.
		b.openUntil.Store(b.now().UnixNano() + b.openFor)
	}
	_, _, _, gen := unpack(from)
	b.w.Store(word(to, 0, 0, gen+1))
	if b.onChange != nil {
		b.onChange(State(from&stateMask), to)
	}
	return true
}

// State is the state now. An Open breaker whose period is over reports
// HalfOpen: the next Allow will let a probe through.
func (b *Breaker) State() State {
	if b == nil {
		return Closed
	}
	s := State(b.w.Load() & stateMask)
	if s == Open && b.now().UnixNano() >= b.openUntil.Load() {
		return HalfOpen
	}
	return s
}

// RetryAfter is how long a refused caller should wait, in whole seconds,
// at least 1: the rest of the open period, or 1 while half-open.
func (b *Breaker) RetryAfter() int {
	if b == nil || State(b.w.Load()&stateMask) != Open {
		return 1
	}
	return retryafter.Seconds(time.Duration(b.openUntil.Load() - b.now().UnixNano()))
}

// OpenFor is the configured open period.
func (b *Breaker) OpenFor() time.Duration {
	if b == nil {
		return 0
	}
	return time.Duration(b.openFor)
}
