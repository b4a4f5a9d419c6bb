package forward

import (
	"context"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flashgate/flashgate/internal/redistest"
	"github.com/flashgate/flashgate/stock"
)

// checkGate makes the held-mark check fail (Redis away for it) or answer
// pending (a Take still settling) until open is set.
type checkGate struct {
	*stock.RedisStore
	open    atomic.Bool
	pending bool // answer OrderPending instead of failing
	release atomic.Int64
}

func (l *checkGate) Check(ctx context.Context, q *stock.QueuedOrder) (stock.OrderCheck, error) {
	switch {
	case l.open.Load():
		return l.RedisStore.Check(ctx, q)
	case l.pending:
		return stock.OrderPending, nil
	}
	return 0, stock.ErrUnavailable
}

func (l *checkGate) Release(ctx context.Context, a string, u []byte, seq int64) (bool, error) {
	l.release.Add(1)
	return l.RedisStore.Release(ctx, a, u, seq)
}

// TestForwarderKeepsRateAfterCheckOutage: orders whose check could not
// answer for a while do not go out together when it answers again: the
// check that waits comes before the rate slot, and the one after it
// gives the slot up rather than wait, so sends keep to rate.
func TestForwarderKeepsRateAfterCheckOutage(t *testing.T) {
	f := newFixture(t, []string{redistest.Start(t).Addr()}, "burst", 20)
	f.sell(t, 8)
	be := newBackend(func(*Order, int) (int, error) { return 201, nil })
	l := &checkGate{RedisStore: f.r}
	fw := f.forwarderOn(t, l, "a", be, 5, func(c *StreamConfig) { c.MaxInflight = 4 })
	runFw(t, fw)
	time.Sleep(2 * time.Second)
	l.open.Store(true)
	within(t, 20*time.Second, "all delivered", func() bool { return f.depth(t) == 0 })
	be.mu.Lock()
	ts := append([]time.Time(nil), be.times...)
	be.mu.Unlock()
	sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
	// At 5/s, 500 ms holds 2.5 slots: 3 sends at most.
	for i := range ts {
		n := 0
		for j := i; j < len(ts) && ts[j].Sub(ts[i]) < 500*time.Millisecond; j++ {
			n++
		}
		if n > 3 {
			t.Fatalf("%d sends within 500 ms at rate 5/s (from send %d)", n, i)
		}
	}
}

// TestForwarderMalformedWaitsForItsUnit: an order the forwarder cannot
// read is dead-lettered (its unit given back) only once the check says
// its unit is held: while its Take is settling, a give-back would find
// nothing and the unit would stay taken with no order.
func TestForwarderMalformedWaitsForItsUnit(t *testing.T) {
	f := newFixture(t, []string{redistest.Start(t).Addr()}, "malformed", 5)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if d, err := f.r.TakeOrder(ctx, f.act, []byte("buyer0"), []byte("not an order")); err != nil || d.Result != stock.Admitted {
		t.Fatalf("TakeOrder = %+v, %v", d, err)
	}
	l := &checkGate{RedisStore: f.r, pending: true}
	fw := f.forwarderOn(t, l, "a", newBackend(func(*Order, int) (int, error) { return 201, nil }), 1000, nil)
	runFw(t, fw)
	time.Sleep(300 * time.Millisecond)
	if n := l.release.Load(); n != 0 || fw.Stats().DeadLettered != 0 {
		t.Fatalf("dead-lettered while its Take was settling (%d releases)", n)
	}
	l.open.Store(true)
	within(t, 10*time.Second, "dead-lettered", func() bool { return f.depth(t) == 0 })
	if s := fw.Stats(); s.DeadLettered != 1 || s.Dead[3] != 1 {
		t.Fatalf("stats %+v", s)
	}
	if n := f.left(t); n != 5 {
		t.Fatalf("left = %d, want 5: the unit came back", n)
	}
}

// failingAck is a forwarder whose acks never reach Redis: a stop or a
// kill between a dead letter's Release and its ack.
type failingAck struct{ *stock.RedisStore }

func (failingAck) Finish(context.Context, *stock.QueuedOrder, string, string) (bool, error) {
	return false, stock.ErrUnavailable
}

// TestDeadLetterFinishedByTakeover: a dead letter whose ack never went
// through is finished as a dead letter by the instance that takes it
// over: its reason kept, listed once on the dead-letter Stream (the
// refund list), its unit back once.
func TestDeadLetterFinishedByTakeover(t *testing.T) {
	f := newFixture(t, []string{redistest.Start(t).Addr()}, "deadtake", 5)
	tickets := f.sell(t, 1)
	reject := newBackend(func(*Order, int) (int, error) { return 400, nil })
	idle := func(c *StreamConfig) { c.ClaimIdle = 500 * time.Millisecond; c.SendTimeout = 200 * time.Millisecond }
	a := f.forwarderOn(t, failingAck{f.r}, "a", reject, 1000, idle)
	stopA := runFw(t, a)
	within(t, 10*time.Second, "a dead-letters it", func() bool { return a.Stats().DeadLettered == 1 })
	stopA()
	if n := f.left(t); n != 5 {
		t.Fatalf("left = %d after the dead letter's Release", n)
	}
	b := f.forwarder(t, "b", reject, 1000, idle)
	runFw(t, b)
	within(t, 10*time.Second, "b finishes it", func() bool { return f.depth(t) == 0 })
	if st, _ := f.status(t, tickets[0]); st.State != Failed || st.Reason != ReasonRejected {
		t.Fatalf("status = %+v; want failed, %s (the dead letter's)", st, ReasonRejected)
	}
	n, err := f.client.Do(context.Background(), f.client.B().Xlen().Key("{fg:"+f.act+":0}:dead").Build()).AsInt64()
	m, _ := f.client.Do(context.Background(), f.client.B().Xlen().Key("{fg:"+f.act+":1}:dead").Build()).AsInt64()
	k, _ := f.client.Do(context.Background(), f.client.B().Xlen().Key("{fg:"+f.act+":2}:dead").Build()).AsInt64()
	if err != nil || n+m+k != 1 {
		t.Fatalf("dead letters listed = %d, %v; want 1", n+m+k, err)
	}
	if s := b.Stats(); s.Dropped != 0 || s.DeadLettered != 0 {
		t.Fatalf("b counted it again: %+v", s)
	}
	if n := f.left(t); n != 5 {
		t.Fatalf("left = %d, want 5 (given back once)", n)
	}
}
