package stock

import (
	"context"
	"sync"
	"testing"
	"time"
)

func TestSettlersReuseAndRetire(t *testing.T) {
	var wg sync.WaitGroup
	p := &settlers{run: func(*takeOp) { wg.Done() }}
	for i := 0; i < 3; i++ {
		wg.Add(1)
		p.submit(&takeOp{})
		wg.Wait()
		waitIdle(t, p, 1) // the one settler, parked again each time
	}
	// Three at once need three settlers; all park afterwards.
	block := make(chan struct{})
	p.run = func(*takeOp) { <-block; wg.Done() }
	wg.Add(3)
	for i := 0; i < 3; i++ {
		p.submit(&takeOp{})
	}
	close(block)
	wg.Wait()
	waitIdle(t, p, 3)

	p.retire(time.Now().Add(-time.Hour), false) // none idle that long
	waitIdle(t, p, 3)
	p.retire(time.Now().Add(time.Second), false) // all of them are
	waitIdle(t, p, 0)

	// Closing retires the idle ones and stops those still working.
	block = make(chan struct{})
	wg.Add(2)
	p.submit(&takeOp{})
	p.submit(&takeOp{})
	p.retire(time.Time{}, true)
	close(block)
	wg.Wait()
	if p.park(&settler{}) {
		t.Fatal("a settler parked after close")
	}
	waitIdle(t, p, 0)
}

func waitIdle(t *testing.T, p *settlers, want int) {
	t.Helper()
	for i := 0; i < 2000; i++ {
		p.mu.Lock()
		n := len(p.idle)
		p.mu.Unlock()
		if n == want {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("idle settlers never reached %d", want)
}

func TestDeadlinesShareASlice(t *testing.T) {
	parent, cancel := context.WithCancel(context.Background())
	for _, tc := range []struct {
		d, slice time.Duration
	}{
		{30 * time.Second, 10 * time.Millisecond},
		{50 * time.Millisecond, 5 * time.Millisecond},
		{5 * time.Millisecond, time.Millisecond},
	} {
		p := newDeadlines(parent, tc.d)
		if p.slice != tc.slice {
			t.Errorf("d %s: slice %s, want %s", tc.d, p.slice, tc.slice)
		}
		before := time.Now()
		ctx := p.get()
		after := time.Now()
		dl, ok := ctx.Deadline()
		if !ok || dl.Before(after.Add(tc.d)) || dl.After(after.Add(tc.d+tc.slice)) {
			t.Errorf("d %s: deadline %s after the call, want [%s, %s]", tc.d, dl.Sub(after), tc.d, tc.d+tc.slice)
		}
		if p.get() != ctx && time.Since(before) < tc.slice {
			t.Errorf("d %s: a second Take in the same slice got another context", tc.d)
		}
		time.Sleep(tc.slice)
		if p.get() == ctx {
			t.Errorf("d %s: a Take after the slice shared its context", tc.d)
		}
	}
	cancel() // the store's Close ends every slot
	p := newDeadlines(parent, time.Hour)
	if p.get().Err() == nil {
		t.Error("a slot outlived its parent")
	}
}
