package forward

import (
	"sync"
	"testing"
	"time"

	"github.com/flashgate/flashgate/stock"
)

// heldScript answers Config.Check from a script, one verdict per call
// (the last repeats), and counts the calls.
type heldScript struct {
	mu      sync.Mutex
	answers []stock.OrderCheck
	calls   int
}

func (h *heldScript) check(*Order) stock.OrderCheck {
	h.mu.Lock()
	defer h.mu.Unlock()
	i := min(h.calls, len(h.answers)-1)
	h.calls++
	return h.answers[i]
}

// TestHeldCheck: an order whose unit was given back while it waited in
// the in-process queue (an admin release, its pay_within deadline, a
// forced re-warm) is dropped before its next send, never sent again, and
// its unit is not given back a second time.
func TestHeldCheck(t *testing.T) {
	d, g := stock.OrderDeliver, stock.OrderGone
	tests := []struct {
		name    string
		held    []stock.OrderCheck
		script  []reply
		state   State
		reason  string
		sends   int
		dropped uint64
	}{
		{"held: delivered", []stock.OrderCheck{d}, []reply{{201, nil, 0}}, Delivered, "", 1, 0},
		{"held through the retries: delivered", []stock.OrderCheck{d}, []reply{{503, nil, 0}, {201, nil, 0}}, Delivered, "", 2, 0},
		{"released while queued: never sent", []stock.OrderCheck{g}, nil, Failed, ReasonReleased, 0, 1},
		{"released unpaid while queued: never sent", []stock.OrderCheck{stock.OrderUnpaid}, nil, Failed, ReasonUnpaid, 0, 1},
		{"sale reset while queued: never sent", []stock.OrderCheck{stock.OrderReset}, nil, Failed, ReasonReset, 0, 1},
		{"released during a retry's backoff: not sent again", []stock.OrderCheck{d, g}, []reply{{503, nil, 0}}, Failed, ReasonReleased, 1, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := newFakeClock()
			o := order(1)
			h := &heldScript{answers: tc.held}
			rel := &releases{n: map[string]int{}}
			s := &scripted{scripts: map[string][]reply{o.Ticket: tc.script}, sends: map[string]int{}}
			q, err := New(Config{Rate: 1000, Attempts: 3, Now: clk.Now, Sleep: clk.Sleep, Check: h.check}, s, rel.release)
			if err != nil {
				t.Fatal(err)
			}
			if err := q.Enqueue(o); err != nil {
				t.Fatal(err)
			}
			run(t, q)
			var st Stats
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
				if st = q.Stats(); st.Depth == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("order not finished in 10 s: %+v", st)
				}
			}
			got, _ := q.Status(o.Ticket, o.User)
			if got.State != tc.state || got.Reason != tc.reason {
				t.Errorf("status %v %q, want %v %q", got.State, got.Reason, tc.state, tc.reason)
			}
			s.mu.Lock()
			sends := s.sends[o.Ticket]
			s.mu.Unlock()
			if sends != tc.sends {
				t.Errorf("backend saw %d sends, want %d", sends, tc.sends)
			}
			if st.Dropped != tc.dropped || st.DeadLettered != 0 {
				t.Errorf("dropped %d, dead-lettered %d; want %d, 0", st.Dropped, st.DeadLettered, tc.dropped)
			}
			if rel.n[o.Ticket] != 0 {
				t.Errorf("unit given back %d times by the queue, want 0 (it was back already)", rel.n[o.Ticket])
			}
			if h.calls != tc.sends+int(tc.dropped) {
				t.Errorf("checked %d times, want one per send or drop (%d)", h.calls, tc.sends+int(tc.dropped))
			}
		})
	}
}
