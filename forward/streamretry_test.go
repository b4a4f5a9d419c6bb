package forward

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/flashgate/flashgate/internal/redistest"
	"github.com/flashgate/flashgate/stock"
)

// TestForwarderRetries: the Redis side of classify and of the checks
// between sends: an unreachable backend uses no attempt and expires
// after max_wait; a Release while an order waits for its retry stops it;
// a queued order's poll tells its attempts and last answer.
func TestForwarderRetries(t *testing.T) {
	addrs := []string{redistest.Start(t).Addr()}
	unreachable := fmt.Errorf("%w: dial tcp: connection refused", ErrUnreachable)

	t.Run("unreachable 20 times, more than attempts: delivered, one attempt", func(t *testing.T) {
		f := newFixture(t, addrs, "down", 5)
		tickets := f.sell(t, 2)
		be := newBackend(func(_ *Order, n int) (int, error) {
			if n <= 20 {
				return 0, unreachable
			}
			return 201, nil
		})
		fw := f.forwarder(t, "a", be, 1000, func(c *StreamConfig) { c.BackoffMax = 5 * time.Millisecond })
		runFw(t, fw)
		within(t, 30*time.Second, "all finished", func() bool { return f.depth(t) == 0 })
		for _, tk := range tickets {
			if st, _ := f.status(t, tk); st.State != Delivered || st.Attempts != 1 {
				t.Errorf("status of %s: %+v, want delivered after 1 attempt", tk, st)
			}
		}
		if s := fw.Stats(); s.RetryAfterTimeout != 0 || s.DeadLettered != 0 {
			t.Errorf("stats %+v: want no possible duplicate, no dead letter", s)
		}
	})

	t.Run("unreachable for ever: expired after max_wait, unit back", func(t *testing.T) {
		f := newFixture(t, addrs, "gone", 5)
		tickets := f.sell(t, 2)
		be := newBackend(func(*Order, int) (int, error) { return 0, unreachable })
		fw := f.forwarder(t, "a", be, 1000, func(c *StreamConfig) {
			c.BackoffMax = 20 * time.Millisecond
			c.MaxWait = 300 * time.Millisecond
		})
		runFw(t, fw)
		within(t, 30*time.Second, "all finished", func() bool { return f.depth(t) == 0 })
		for _, tk := range tickets {
			if st, _ := f.status(t, tk); st.State != Failed || st.Reason != ReasonExpired || st.Attempts != 0 {
				t.Errorf("status of %s: %+v, want failed expired after 0 attempts", tk, st)
			}
		}
		if l := f.left(t); l != 5 {
			t.Errorf("left %d, want 5: both units back, once", l)
		}
	})

	t.Run("released while waiting for its retry: no further send", func(t *testing.T) {
		f := newFixture(t, addrs, "rel", 5)
		tickets := f.sell(t, 1)
		act, user, seq := splitTicket(t, tickets[0])
		be := newBackend(func(_ *Order, n int) (int, error) {
			if n == 1 { // the operator gives the unit back while the order waits
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				if ok, err := f.r.Release(ctx, act, []byte(user), seq); !ok || err != nil {
					t.Errorf("Release = %v, %v", ok, err)
				}
			}
			return 500, nil
		})
		fw := f.forwarder(t, "a", be, 1000, nil)
		runFw(t, fw)
		within(t, 30*time.Second, "finished", func() bool { return f.depth(t) == 0 })
		if st, _ := f.status(t, tickets[0]); st.State != Failed || st.Reason != ReasonReleased {
			t.Errorf("status %+v, want failed released", st)
		}
		if _, sends := be.count(); sends != 1 {
			t.Errorf("%d sends, want 1: the retry of a released order went out", sends)
		}
		if s := fw.Stats(); s.Dropped != 1 || s.DeadLettered != 0 {
			t.Errorf("stats %+v, want one dropped, no dead letter (its unit came back by the Release)", s)
		}
		if l := f.left(t); l != 5 {
			t.Errorf("left %d, want 5 (released once)", l)
		}
	})

	t.Run("a queued order's poll: attempts and the last answer, then the final record", func(t *testing.T) {
		f := newFixture(t, addrs, "poll", 5)
		tickets := f.sell(t, 1)
		act, user, seq := splitTicket(t, tickets[0])
		release := make(chan struct{})
		be := newBackend(func(_ *Order, n int) (int, error) {
			if n == 1 {
				return 502, nil
			}
			<-release
			return 201, nil
		})
		runFw(t, f.forwarder(t, "a", be, 1000, nil))
		var st Status
		within(t, 10*time.Second, "the interim record", func() bool {
			b, state, err := f.r.OrderStatus(context.Background(), act, user, seq)
			if err != nil || state != stock.OrderQueued || b == nil {
				return false
			}
			if st, err = ParseStatus(b); err != nil {
				t.Fatal(err)
			}
			return true
		})
		close(release)
		if st.State != Queued || st.Attempts != 1 || st.Code != 502 {
			t.Errorf("queued poll %+v, want queued after 1 attempt, code 502", st)
		}
		within(t, 10*time.Second, "finished", func() bool { return f.depth(t) == 0 })
		if st, state := f.status(t, tickets[0]); state != stock.OrderRecorded || st.State != Delivered || st.Attempts != 2 {
			t.Errorf("final %+v (%d), want delivered after 2 attempts: the final record wins over the interim one", st, state)
		}
	})
}
