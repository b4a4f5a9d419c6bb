package breaker

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// clock is an injected clock: tests move it instead of sleeping.
type clock struct{ t atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.t.Store(time.Unix(1000, 0).UnixNano())
	return c
}
func (c *clock) now() time.Time      { return time.Unix(0, c.t.Load()) }
func (c *clock) add(d time.Duration) { c.t.Add(int64(d)) }
func newTest(c *clock, probes int) *Breaker {
	return New(Settings{Failures: 3, OpenFor: time.Second, Probes: probes, Now: c.now})
}

// TestStates walks the state machine one step at a time.
func TestStates(t *testing.T) {
	c := newClock()
	b := newTest(c, 2)
	var held []Ticket
	type step struct {
		name  string
		do    func()
		state State
		allow bool // what a fresh Allow answers afterwards (its ticket is kept)
	}
	fail := func() { tk, _ := b.Allow(); b.Done(tk, Failure) }
	steps := []step{
		{"closed", func() {}, Closed, true},
		{"two failures stay closed", func() { fail(); fail() }, Closed, true},
		{"a success resets the count", func() { tk, _ := b.Allow(); b.Done(tk, Success); fail(); fail() }, Closed, true},
		{"third consecutive failure opens", fail, Open, false},
		{"still open before open_for", func() { c.add(999 * time.Millisecond) }, Open, false},
		{"half-open after open_for", func() { c.add(time.Millisecond) }, HalfOpen, true},
		{"second probe", func() {}, HalfOpen, true},
		{"no third probe while two are out", func() {}, HalfOpen, false},
		{"an ignored probe frees its slot", func() { b.Done(held[0], Ignore); held = held[1:] }, HalfOpen, true},
		{"one success does not close with probes=2", func() { b.Done(held[0], Success); held = held[1:] }, HalfOpen, false},
		{"second success closes", func() { b.Done(held[0], Success); held = held[1:] }, Closed, true},
	}
	for _, s := range steps {
		s.do()
		if got := b.State(); got != s.state {
			t.Fatalf("%s: state %v, want %v", s.name, got, s.state)
		}
		tk, ok := b.Allow()
		if ok != s.allow {
			t.Fatalf("%s: allow=%v, want %v", s.name, ok, s.allow)
		}
		if ok && tk.probe {
			held = append(held, tk)
		} else if ok {
			b.Done(tk, Ignore)
		}
	}
}

// TestFailedProbeReopens: the first failed probe opens the breaker again
// for a full period, and the other probe's late success does not close it.
func TestFailedProbeReopens(t *testing.T) {
	c := newClock()
	b := newTest(c, 2)
	for range 3 {
		tk, _ := b.Allow()
		b.Done(tk, Failure)
	}
	c.add(time.Second)
	p1, ok1 := b.Allow()
	p2, ok2 := b.Allow()
	if !ok1 || !ok2 {
		t.Fatal("half-open refused its probes")
	}
	b.Done(p1, Failure)
	if b.State() != Open {
		t.Fatalf("failed probe left state %v", b.State())
	}
	b.Done(p2, Success)
	b.Done(p2, Success)
	if b.State() != Open {
		t.Fatalf("a probe of the previous half-open closed the breaker: %v", b.State())
	}
	if got := b.RetryAfter(); got != 1 {
		t.Fatalf("RetryAfter = %d, want 1", got)
	}
	c.add(999 * time.Millisecond)
	if _, ok := b.Allow(); ok {
		t.Fatal("reopened breaker admitted before its period ended")
	}
}

// TestLateSuccessDoesNotClose is the generation counter: a call admitted
// while closed that succeeds after the breaker opened (a slow request
// that started before the backend died) must not close it, nor may it use
// up or free a probe slot of the half-open that follows.
func TestLateSuccessDoesNotClose(t *testing.T) {
	c := newClock()
	b := newTest(c, 1)
	slow, _ := b.Allow() // starts while closed
	for range 3 {
		tk, _ := b.Allow()
		b.Done(tk, Failure)
	}
	b.Done(slow, Success)
	if b.State() != Open {
		t.Fatalf("a success that started before the breaker opened moved it to %v", b.State())
	}
	c.add(time.Second)
	probe, ok := b.Allow()
	if !ok {
		t.Fatal("no probe after open_for")
	}
	b.Done(slow, Ignore)
	if _, ok := b.Allow(); ok {
		t.Fatal("an old ticket freed the half-open probe slot")
	}
	b.Done(probe, Success)
	if b.State() != Closed {
		t.Fatalf("successful probe left %v", b.State())
	}
	// A failure admitted two generations ago does not count now.
	b.Done(slow, Failure)
	b.Done(slow, Failure)
	b.Done(slow, Failure)
	if b.State() != Closed {
		t.Fatalf("stale failures opened the breaker: %v", b.State())
	}
}

func TestRetryAfter(t *testing.T) {
	c := newClock()
	b := New(Settings{Failures: 1, OpenFor: 5 * time.Second, Now: c.now})
	tk, _ := b.Allow()
	b.Done(tk, Failure)
	tests := []struct {
		at   time.Duration
		want int
	}{{0, 5}, {1500 * time.Millisecond, 4}, {4999 * time.Millisecond, 1}, {5 * time.Second, 1}}
	for _, tc := range tests {
		c.t.Store(time.Unix(1000, 0).UnixNano() + int64(tc.at))
		if got := b.RetryAfter(); got != tc.want {
			t.Errorf("at %v: RetryAfter %d, want %d", tc.at, got, tc.want)
		}
	}
}

func TestNilIsDisabled(t *testing.T) {
	var b *Breaker
	tk, ok := b.Allow()
	b.Done(tk, Failure)
	if !ok || b.State() != Closed || b.RetryAfter() != 1 {
		t.Fatal("nil breaker is not a disabled one")
	}
}

// TestProbesBounded: however many goroutines race a half-open breaker,
// no more than Probes calls are ever in flight at once.
func TestProbesBounded(t *testing.T) {
	c := newClock()
	const probes = 3
	b := newTest(c, probes)
	for range 3 {
		tk, _ := b.Allow()
		b.Done(tk, Failure)
	}
	c.add(time.Second)
	var inflight, peak, admitted atomic.Int64
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				tk, ok := b.Allow()
				if !ok {
					continue
				}
				admitted.Add(1)
				n := inflight.Add(1)
				for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
				}
				inflight.Add(-1)
				b.Done(tk, Ignore) // keeps the breaker half-open
			}
		}()
	}
	wg.Wait()
	if p := peak.Load(); p > probes || p < 1 {
		t.Fatalf("peak probes in flight %d, want 1..%d", p, probes)
	}
	if b.State() != HalfOpen || admitted.Load() == 0 {
		t.Fatalf("state %v after %d ignored probes", b.State(), admitted.Load())
	}
}
