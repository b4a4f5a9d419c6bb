package redisgcra

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/flashgate/flashgate/internal/redistest"
)

// TestReserveSequence: back-to-back reservations on a fresh pace get one
// slot each, an interval apart, until the horizon; the next is refused
// with the wait until a slot is within it, and leaves the pace as it was.
func TestReserveSequence(t *testing.T) {
	c := redistest.Client(t, redistest.Start(t).Addr())
	r := NewReserver(c, "fg:q:{seq}", 10, 2, time.Second) // 100 ms slots, 2 ahead: horizon 200 ms
	const slack = 50 * time.Millisecond                   // calls are not instantaneous
	tests := []struct {
		ok   bool
		wait time.Duration
	}{
		{true, 0},
		{true, 100 * time.Millisecond},
		{true, 200 * time.Millisecond},
		{false, 100 * time.Millisecond},
		{false, 100 * time.Millisecond}, // a refusal reserved nothing
	}
	for i, tc := range tests {
		wait, ok, err := r.Reserve(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if ok != tc.ok || wait > tc.wait || wait < tc.wait-slack {
			t.Errorf("call %d: ok %v wait %v, want ok %v wait %v (within %v below)", i, ok, wait, tc.ok, tc.wait, slack)
		}
	}
}

// TestReserveKeepsRate: two instances (Reservers on one key) with K
// waiters each, every waiter going at its slot, achieve the rate within
// 10% over the window, and never more than one slot and the horizon
// beyond it.
func TestReserveKeepsRate(t *testing.T) {
	const (
		rate   = 200.0
		k      = 8
		window = 2 * time.Second
	)
	addr := redistest.Start(t).Addr()
	var mu sync.Mutex
	var sends []time.Time
	start := time.Now()
	deadline := start.Add(window)
	var wg sync.WaitGroup
	for range 2 {
		r := NewReserver(redistest.Client(t, addr), "fg:q:{rate}", rate, k, time.Second)
		for range k {
			wg.Go(func() {
				for time.Now().Before(deadline) {
					wait, ok, err := r.Reserve(context.Background())
					if err != nil {
						t.Error(err)
						return
					}
					time.Sleep(wait)
					if ok {
						mu.Lock()
						sends = append(sends, time.Now())
						mu.Unlock()
					}
				}
			})
		}
	}
	wg.Wait()
	slices.SortFunc(sends, func(a, b time.Time) int { return a.Compare(b) })
	iv := time.Duration(float64(time.Second) / rate)
	// Send i (0-based) had slot start + i·interval at the earliest, and
	// went no sooner than its slot: so at most elapsed/interval + 1 by
	// any send's time (the horizon on top, for the clocks' grain).
	for i, at := range sends {
		if limit := int(at.Sub(start)/iv) + 1 + k; i+1 > limit {
			t.Fatalf("send %d at %v: %d sends, more than rate × elapsed + 1 + horizon = %d", i, at.Sub(start), i+1, limit)
		}
	}
	inWindow := 0
	for _, at := range sends {
		if !at.After(deadline) {
			inWindow++
		}
	}
	want := rate * window.Seconds()
	if got := float64(inWindow); got < 0.9*want || got > 1.1*want {
		t.Errorf("%d sends in %v at rate %v, want %v ± 10%%", inWindow, window, rate, want)
	}
	t.Logf("%d sends in %v (%.1f%% of rate), %d in all", inWindow, window, 100*float64(inWindow)/want, len(sends))
}
