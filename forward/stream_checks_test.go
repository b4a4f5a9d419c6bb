package forward

import (
	"context"
	"sort"
	"strconv"
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

// Peek is gated alike: the check before the rate slot peeks, the one
// right before the send claims.
func (l *checkGate) Peek(ctx context.Context, q *stock.QueuedOrder) (stock.OrderCheck, error) {
	switch {
	case l.open.Load():
		return l.RedisStore.Peek(ctx, q)
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

// halfDoneDeadLetter sells one order and has an instance whose acks
// never reach Redis dead-letter it (the backend answers 400) and stop:
// the record written and the unit given back, the entry not acked. It
// returns the ticket, the rejecting backend and the timing to take the
// entry over with.
func (f *fixture) halfDoneDeadLetter(t *testing.T) ([]string, *backend, func(*StreamConfig)) {
	t.Helper()
	tickets := f.sell(t, 1)
	reject := newBackend(func(*Order, int) (int, error) { return 400, nil })
	idle := func(c *StreamConfig) { c.ClaimIdle = 500 * time.Millisecond; c.SendTimeout = 200 * time.Millisecond }
	a := f.forwarderOn(t, failingAck{f.r}, "a", reject, 1000, idle)
	stopA := runFw(t, a)
	within(t, 10*time.Second, "a dead-letters it", func() bool { return a.Stats().DeadLettered == 1 })
	stopA()
	return tickets, reject, idle
}

// TestDeadLetterFinishedByTakeover: a dead letter whose ack never went
// through is finished as a dead letter by the instance that takes it
// over: its reason kept, listed once on the dead-letter Stream (the
// refund list), its unit back once.
func TestDeadLetterFinishedByTakeover(t *testing.T) {
	f := newFixture(t, []string{redistest.Start(t).Addr()}, "deadtake", 5)
	tickets, reject, idle := f.halfDoneDeadLetter(t)
	if n := f.left(t); n != 5 {
		t.Fatalf("left = %d after the dead letter's Release", n)
	}
	b := f.forwarder(t, "b", reject, 1000, idle)
	runFw(t, b)
	within(t, 10*time.Second, "b finishes it", func() bool { return f.depth(t) == 0 })
	if st, _ := f.status(t, tickets[0]); st.State != Failed || st.Reason != ReasonRejected {
		t.Fatalf("status = %+v; want failed, %s (the dead letter's)", st, ReasonRejected)
	}
	if n := f.deadListed(t); n != 1 {
		t.Fatalf("dead letters listed = %d; want 1", n)
	}
	if s := b.Stats(); s.Dropped != 0 || s.DeadLettered != 0 {
		t.Fatalf("b counted it again: %+v", s)
	}
	if n := f.left(t); n != 5 {
		t.Fatalf("left = %d, want 5 (given back once)", n)
	}
}

// deadListed counts the entries of the activity's dead-letter Streams
// (the fixture's three shards).
func (f *fixture) deadListed(t *testing.T) int64 {
	t.Helper()
	var total int64
	for i := range 3 {
		n, err := f.client.Do(context.Background(), f.client.B().Xlen().Key("{fg:"+f.act+":"+strconv.Itoa(i)+"}:dead").Build()).AsInt64()
		if err != nil {
			t.Fatal(err)
		}
		total += n
	}
	return total
}

// TestDropIgnoresAnEarlierLoadsRecord: after a forced re-Warm purchase
// numbers start again at 1; a released order of the new load is dropped
// as released, not taken for the old load's dead letter of the same
// number (the status records' keys carry the load's version).
func TestDropIgnoresAnEarlierLoadsRecord(t *testing.T) {
	f := newFixture(t, []string{redistest.Start(t).Addr()}, "oldload", 5)
	f.sell(t, 1)
	reject := newBackend(func(*Order, int) (int, error) { return 400, nil })
	a := f.forwarder(t, "a", reject, 1000, nil)
	stopA := runFw(t, a)
	within(t, 10*time.Second, "dead-lettered", func() bool { return f.depth(t) == 0 && a.Stats().DeadLettered == 1 })
	stopA()
	ctx := context.Background()
	if err := f.r.Warm(ctx, stock.Spec{Activity: f.act, Stock: 5, Shards: 3, PerUser: 1}, true); err != nil {
		t.Fatal(err)
	}
	tickets := f.sell(t, 1) // buyer0 again: purchase 1 of the new load
	_, _, seq := splitTicket(t, tickets[0])
	if ok, err := f.r.Release(ctx, f.act, []byte("buyer0"), seq); !ok || err != nil {
		t.Fatalf("Release = %v, %v", ok, err)
	}
	b := f.forwarder(t, "b", reject, 1000, nil)
	runFw(t, b)
	within(t, 10*time.Second, "dropped", func() bool { return f.depth(t) == 0 })
	if st, _ := f.status(t, tickets[0]); st.Reason != ReasonReleased || b.Stats().Dropped != 1 || f.deadListed(t) != 1 {
		t.Fatalf("status %+v, dropped %d, dead letters listed %d: want released, 1, 1", st, b.Stats().Dropped, f.deadListed(t))
	}
}

// statusBlip fails the first fails status reads.
type statusBlip struct {
	*stock.RedisStore
	fails atomic.Int64
}

func (l *statusBlip) OrderStatus(ctx context.Context, a, u string, seq int64) ([]byte, stock.OrderState, error) {
	if l.fails.Add(-1) >= 0 {
		return nil, stock.OrderUnknown, stock.ErrUnavailable
	}
	return l.RedisStore.OrderStatus(ctx, a, u, seq)
}

// TestDeadLetterTakeoverSurvivesAStatusError: a failed read of the status
// record does not turn a half-done dead letter into a drop (which would
// overwrite its record and leave it off the refund list): the check runs
// again.
func TestDeadLetterTakeoverSurvivesAStatusError(t *testing.T) {
	f := newFixture(t, []string{redistest.Start(t).Addr()}, "deaderr", 5)
	tickets, reject, idle := f.halfDoneDeadLetter(t)
	l := &statusBlip{RedisStore: f.r}
	l.fails.Store(1)
	b := f.forwarderOn(t, l, "b", reject, 1000, idle)
	runFw(t, b)
	within(t, 10*time.Second, "b finishes it", func() bool { return f.depth(t) == 0 })
	if st, _ := f.status(t, tickets[0]); st.Reason != ReasonRejected || f.deadListed(t) != 1 {
		t.Fatalf("status %+v, dead letters listed %d: want %s, 1", st, f.deadListed(t), ReasonRejected)
	}
}

// TestUnconfirmedFinishedByTakeover: an order dead-lettered unconfirmed
// (its sends unanswered) by an instance whose ack never went through is
// finished as that dead letter by the instance that takes it over: not
// sent again with a fresh set of attempts, its unit still sold, listed
// once on the dead-letter Stream.
func TestUnconfirmedFinishedByTakeover(t *testing.T) {
	f := newFixture(t, []string{redistest.Start(t).Addr()}, "unconftake", 5)
	tickets := f.sell(t, 1)
	silent := newBackend(func(*Order, int) (int, error) { return 0, context.DeadlineExceeded })
	idle := func(c *StreamConfig) { c.ClaimIdle = 500 * time.Millisecond; c.SendTimeout = 200 * time.Millisecond }
	a := f.forwarderOn(t, failingAck{f.r}, "a", silent, 1000, idle)
	stopA := runFw(t, a)
	within(t, 10*time.Second, "a dead-letters it", func() bool { return a.Stats().DeadLettered == 1 })
	stopA()
	be := newBackend(func(*Order, int) (int, error) { return 201, nil })
	runFw(t, f.forwarder(t, "b", be, 1000, idle))
	within(t, 10*time.Second, "b finishes it", func() bool { return f.depth(t) == 0 })
	if _, sends := be.count(); sends != 0 {
		t.Errorf("the unconfirmed order was sent again %d times", sends)
	}
	if st, _ := f.status(t, tickets[0]); st.State != Failed || st.Reason != ReasonUnconfirmed {
		t.Errorf("status = %+v; want failed unconfirmed", st)
	}
	if n := f.left(t); n != 4 {
		t.Errorf("left = %d, want 4: an unconfirmed order keeps its unit", n)
	}
	if n := f.deadListed(t); n != 1 {
		t.Errorf("dead-letter Stream lists %d, want 1", n)
	}
}
