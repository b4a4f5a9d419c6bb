package shed

import (
	"sync/atomic"
	"testing"
	"time"
)

type clock struct{ ns atomic.Int64 }

func (c *clock) now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *clock) add(d time.Duration) { c.ns.Add(int64(d)) }

const (
	target   = 10 * time.Millisecond
	interval = 100 * time.Millisecond
)

func newTest() (*Shedder, *clock) {
	c := &clock{}
	c.ns.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()) // interval-aligned
	return New(Settings{Target: target, Interval: interval, Now: c.now}), c
}

// run admits n requests at once, moves the clock by lat and finishes them:
// an interval in which every request took lat.
func run(t *testing.T, s *Shedder, c *clock, n int, lat time.Duration) {
	t.Helper()
	starts := make([]int64, 0, n)
	for range n {
		st, ok := s.Admit()
		if !ok {
			t.Fatalf("shed while filling an interval (limit %d, inflight %d)", s.Limit(), s.Inflight())
		}
		starts = append(starts, st)
	}
	c.add(lat)
	for _, st := range starts {
		s.Done(st)
	}
}

// admitted counts how many of n new requests Admit lets in at once.
func admitted(s *Shedder, n int) (int, []int64) {
	var in []int64
	for range n {
		if st, ok := s.Admit(); ok {
			in = append(in, st)
		}
	}
	return len(in), in
}

func TestShedding(t *testing.T) {
	tests := []struct {
		name      string
		lat       time.Duration // latency of every request in the first interval
		n         int           // requests in it
		wantLimit int64
	}{
		{"fast route never sheds", 2 * time.Millisecond, 20, 0},
		{"at the target is not a standing queue", target, 20, 0},
		// 20 done in 100ms at 50ms each: 20 × 50ms / 100ms = 10 in flight.
		{"standing queue: maxPass x minRT", 50 * time.Millisecond, 20, 10},
		{"one slow request: limit is at least 1", 30 * time.Millisecond, 1, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, c := newTest()
			run(t, s, c, tc.n, tc.lat)
			c.add(interval - tc.lat) // the next interval begins
			got, in := admitted(s, 50)
			if s.Limit() != tc.wantLimit {
				t.Fatalf("limit %d, want %d", s.Limit(), tc.wantLimit)
			}
			want := 50
			if tc.wantLimit > 0 {
				want = int(tc.wantLimit)
			}
			if got != want {
				t.Fatalf("admitted %d of 50 at once, want %d", got, want)
			}
			for _, st := range in {
				s.Done(st)
			}
			if s.Inflight() != 0 {
				t.Fatalf("inflight %d after every Done", s.Inflight())
			}
		})
	}
}

// TestBurstThatDrains: one fast request in an interval of slow ones means
// the queue emptied (CoDel's minimum): no shedding.
func TestBurstThatDrains(t *testing.T) {
	s, c := newTest()
	fast, _ := s.Admit()
	var starts []int64
	for range 10 {
		st, _ := s.Admit()
		starts = append(starts, st)
	}
	c.add(time.Millisecond)
	s.Done(fast)
	c.add(60 * time.Millisecond)
	for _, st := range starts {
		s.Done(st)
	}
	c.add(interval)
	if n, _ := admitted(s, 30); n != 30 || s.Limit() != 0 {
		t.Fatalf("admitted %d of 30, limit %d: a queue that drained was shed", n, s.Limit())
	}
}

// TestRecovery: shedding stops after an interval whose fastest request
// met the target, and an interval with no completion keeps the decision.
func TestRecovery(t *testing.T) {
	s, c := newTest()
	run(t, s, c, 20, 50*time.Millisecond)
	c.add(50 * time.Millisecond)
	n, in := admitted(s, 50)
	if n != 10 {
		t.Fatalf("shedding: admitted %d, want 10", n)
	}
	// Nothing finishes during this interval: the limit stays.
	c.add(interval)
	if m, _ := admitted(s, 5); m != 0 || s.Limit() != 10 {
		t.Fatalf("with no evidence: admitted %d, limit %d (want 0, 10)", m, s.Limit())
	}
	// They finish fast (the queue is gone) ...
	c.add(2 * time.Millisecond)
	for _, st := range in {
		s.Done(st)
	}
	// ... yet the 102ms they took is above the target: still shedding.
	c.add(interval)
	if s.Admit(); s.Limit() == 0 {
		t.Fatal("stopped shedding after an interval of slow requests")
	}
	s.Done(c.ns.Load())
	c.add(interval)
	// The previous interval's one sample took 0: the standing queue is gone.
	if m, in := admitted(s, 50); m != 50 || s.Limit() != 0 {
		t.Fatalf("after a fast interval: admitted %d, limit %d", m, s.Limit())
	} else {
		for _, st := range in {
			s.Done(st)
		}
	}
}

func TestNilNeverSheds(t *testing.T) {
	var s *Shedder
	if _, ok := s.Admit(); !ok || s.Limit() != 0 || s.Inflight() != 0 {
		t.Fatal("nil shedder shed")
	}
	s.Done(0)
}
