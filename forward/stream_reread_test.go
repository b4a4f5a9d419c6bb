package forward

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flashgate/flashgate/internal/redistest"
	"github.com/flashgate/flashgate/stock"
)

// lostReadLog loses the reply of the first reads that deliver entries, as
// a Redis frozen for a moment does: Redis ran XREADGROUP, so the entries
// are pending with the consumer, and the forwarder saw none of them.
type lostReadLog struct {
	*stock.RedisStore
	lose    atomic.Int32 // reads still to lose
	rereads atomic.Int32
}

func (l *lostReadLog) ReadOrders(ctx context.Context, a string, s int, g, c string, n int) ([]stock.QueuedOrder, error) {
	qs, err := l.RedisStore.ReadOrders(ctx, a, s, g, c, n)
	if err == nil && len(qs) > 0 && l.lose.Add(-1) >= 0 {
		return nil, stock.ErrUnavailable
	}
	return qs, err
}

func (l *lostReadLog) ReadOwnPending(ctx context.Context, a string, s int, g, c, after string, n int) ([]stock.QueuedOrder, error) {
	l.rereads.Add(1)
	return l.RedisStore.ReadOwnPending(ctx, a, s, g, c, after, n)
}

// TestForwarderRereadsLostRead: entries a read delivered whose reply was
// lost are read again from the consumer's own pending list at once, and
// delivered once each, not left to wait out claim_idle (30 s here) on a
// live instance, which a short pay_within would turn into "unpaid".
func TestForwarderRereadsLostRead(t *testing.T) {
	f := newFixture(t, []string{redistest.Start(t).Addr()}, "lostread", 10)
	tickets := f.sell(t, 4)
	be := newBackend(func(*Order, int) (int, error) { return 201, nil })
	l := &lostReadLog{RedisStore: f.r}
	l.lose.Store(2)
	fw := f.forwarderOn(t, l, "a", be, 1000, func(c *StreamConfig) { c.ClaimIdle = 30 * time.Second })
	runFw(t, fw)
	// Well under claim_idle: the reads, a poll interval and the sends.
	within(t, 10*time.Second, "all delivered", func() bool { return f.depth(t) == 0 })
	if orders, sends := be.count(); orders != len(tickets) || sends != len(tickets) {
		t.Errorf("%d sends of %d orders (%d sold)", sends, orders, len(tickets))
	}
	if s := fw.Stats(); s.Delivered != uint64(len(tickets)) || s.TakenOver != 0 || s.ClaimedFromDead != 0 {
		t.Errorf("stats %+v: want every order delivered once, none counted taken over or as a duplicate", s)
	}
	if l.rereads.Load() == 0 {
		t.Error("no read of the own pending list")
	}
}

// finishingLog finishes (disowns) an entry the forwarder works on while
// its own pending list is being read, after Redis answered with it still
// pending: the race readOwn guards against.
type finishingLog struct {
	*stock.RedisStore
	fw   *Forwarder
	item *streamItem
}

func (l *finishingLog) ReadOwnPending(ctx context.Context, a string, s int, g, c, after string, n int) ([]stock.QueuedOrder, error) {
	qs, err := l.RedisStore.ReadOwnPending(ctx, a, s, g, c, after, n)
	l.fw.disown(l.item) // its send, record and ack completed meanwhile
	return qs, err
}

// TestRereadSkipsWhatFinishedMeanwhile: an entry that was pending when
// the own pending list was read, and finished before the forwarder took
// the answer in, is not started again; one that is still pending is.
func TestRereadSkipsWhatFinishedMeanwhile(t *testing.T) {
	f := newFixture(t, []string{redistest.Start(t).Addr()}, "rereadrace", 10)
	f.sell(t, 7) // 3 shards: one Stream holds at least 3
	l := &finishingLog{RedisStore: f.r}
	fw := f.forwarderOn(t, l, "a", newBackend(func(*Order, int) (int, error) { return 201, nil }), 1000, nil)
	l.fw = fw
	ctx := context.Background()
	if err := f.r.CreateGroups(ctx, f.act, "orders"); err != nil {
		t.Fatal(err)
	}
	n, err := f.r.OrderShards(ctx, f.act)
	if err != nil {
		t.Fatal(err)
	}
	read, shard := readTwo(t, f, n)
	owned := fw.ownAll(read[:1], nil) // the first one is under way here
	l.item = owned[0]
	fw.beginReads()
	again, err := fw.readOwn(ctx, shardRef{f.act, shard})
	if err != nil {
		t.Fatal(err)
	}
	started := fw.ownAll(again, nil)
	for _, it := range started {
		if it.q.ID == read[0].ID {
			t.Fatalf("entry %s finished during the reread was started again", it.q.ID)
		}
	}
	if want := len(read) - 1; len(started) != want {
		t.Fatalf("reread started %d entries, want the %d still pending", len(started), want)
	}
}

// downReads is Redis not answering the forwarder's reads while down is
// set: they fail without running.
type downReads struct {
	*stock.RedisStore
	down  atomic.Bool
	tried atomic.Int32
}

func (l *downReads) ReadOrders(ctx context.Context, a string, s int, g, c string, n int) ([]stock.QueuedOrder, error) {
	if l.down.Load() {
		l.tried.Add(1)
		return nil, stock.ErrUnavailable
	}
	return l.RedisStore.ReadOrders(ctx, a, s, g, c, n)
}

func (l *downReads) ReadOwnPending(ctx context.Context, a string, s int, g, c, after string, n int) ([]stock.QueuedOrder, error) {
	if l.down.Load() {
		return nil, stock.ErrUnavailable
	}
	return l.RedisStore.ReadOwnPending(ctx, a, s, g, c, after, n)
}

// TestRereadAfterLostGroup: reads failed (Redis away), and Redis came
// back without the consumer group (restarted empty, a lagging failover):
// the read of the own pending list meets NOGROUP, the groups are made
// again and the orders admitted since are delivered; the Stream is not
// left unread for ever.
func TestRereadAfterLostGroup(t *testing.T) {
	f := newFixture(t, []string{redistest.Start(t).Addr()}, "lostgroup", 10)
	be := newBackend(func(*Order, int) (int, error) { return 201, nil })
	l := &downReads{RedisStore: f.r}
	fw := f.forwarderOn(t, l, "a", be, 1000, nil)
	ctx := context.Background()
	if err := f.r.CreateGroups(ctx, f.act, "orders"); err != nil {
		t.Fatal(err)
	}
	l.down.Store(true)
	runFw(t, fw)
	within(t, 10*time.Second, "failed reads of every Stream", func() bool { return l.tried.Load() >= 3 })
	keys, err := f.client.Do(ctx, f.client.B().Keys().Pattern("*:orders").Build()).AsStrSlice()
	if err != nil || len(keys) == 0 {
		t.Fatalf("orders Streams: %v %v", keys, err)
	}
	for _, k := range keys { // Redis back without the group
		if err := f.client.Do(ctx, f.client.B().XgroupDestroy().Key(k).Group("orders").Build()).Error(); err != nil {
			t.Fatal(err)
		}
	}
	l.down.Store(false)
	tickets := f.sell(t, 3)
	within(t, 15*time.Second, "delivered after the group was lost", func() bool { return f.depth(t) == 0 })
	if orders, sends := be.count(); orders != len(tickets) || sends != len(tickets) {
		t.Errorf("%d sends of %d orders (%d sold)", sends, orders, len(tickets))
	}
}

// TestClaimedOwnFinishedMeanwhile: XAUTOCLAIM returns this consumer's
// own entries when they look idle; one finished between that reply and
// ownAll is not started again (it would be sent twice: its ledger says
// claimed, which reads as a redelivery).
func TestClaimedOwnFinishedMeanwhile(t *testing.T) {
	f, fw, read, shard := readSold(t, "claimown")
	ctx := context.Background()
	owned := fw.ownAll(read, nil)
	time.Sleep(20 * time.Millisecond) // idle beyond the claim below
	fw.beginReads()
	claimed, _, err := f.r.ClaimIdle(ctx, f.act, shard, "orders", "a", 10*time.Millisecond, 10, "0-0")
	if err != nil || len(claimed) != len(read) {
		t.Fatalf("claim of the own idle entries: %d, %v", len(claimed), err)
	}
	fw.disown(owned[0]) // finished meanwhile
	if again := fw.ownAll(claimed, nil); len(again) != 0 {
		t.Fatalf("started %d entries again (first %s): one finished meanwhile, the rest still under way", len(again), again[0].q.ID)
	}
}

// TestRereadKeepsLost: an entry under way here that a touch found taken
// over by another instance stays lost when a reread returns it (the
// reread saw it pending here before the takeover): otherwise both
// instances would send it.
func TestRereadKeepsLost(t *testing.T) {
	f := newFixture(t, []string{redistest.Start(t).Addr()}, "rereadlost", 10)
	fw := f.forwarder(t, "a", newBackend(func(*Order, int) (int, error) { return 201, nil }), 1000, nil)
	q := stock.QueuedOrder{Activity: f.act, Shard: 0, ID: "1-0", User: "u", N: 1}
	owned := fw.ownAll([]stock.QueuedOrder{q}, nil)
	owned[0].lost.Store(true) // a touch found it claimed by another consumer
	again := q
	again.Claimed, again.Reread = true, true
	fw.beginReads()
	if started := fw.ownAll([]stock.QueuedOrder{again}, nil); len(started) != 0 || !owned[0].lost.Load() {
		t.Fatalf("reread copy: started %d, lost %v; want nothing started and the entry still lost", len(started), owned[0].lost.Load())
	}
	claimedBack := q
	claimedBack.Claimed = true // XAUTOCLAIM moved it back to this consumer
	if fw.ownAll([]stock.QueuedOrder{claimedBack}, nil); owned[0].lost.Load() {
		t.Fatal("an entry XAUTOCLAIM moved back here is still marked lost")
	}
}

// unseenLog loses every read's reply (the entries stay pending with the
// consumer, unseen) and fails every reread until open is set.
type unseenLog struct {
	*stock.RedisStore
	lost atomic.Int32
	open atomic.Bool
}

func (l *unseenLog) ReadOrders(ctx context.Context, a string, s int, g, c string, n int) ([]stock.QueuedOrder, error) {
	qs, err := l.RedisStore.ReadOrders(ctx, a, s, g, c, n)
	if err == nil && len(qs) > 0 {
		l.lost.Add(int32(len(qs)))
		return nil, stock.ErrUnavailable
	}
	return qs, err
}

func (l *unseenLog) ReadOwnPending(ctx context.Context, a string, s int, g, c, after string, n int) ([]stock.QueuedOrder, error) {
	if !l.open.Load() {
		return nil, stock.ErrUnavailable
	}
	return l.RedisStore.ReadOwnPending(ctx, a, s, g, c, after, n)
}

// TestStopHandsBackUnseen: a forwarder stopping with entries pending that
// a lost reply kept it from seeing hands them back too, so another
// instance delivers them within a scan, not after claim_idle (30 s here).
func TestStopHandsBackUnseen(t *testing.T) {
	f := newFixture(t, []string{redistest.Start(t).Addr()}, "unseen", 10)
	tickets := f.sell(t, 3)
	l := &unseenLog{RedisStore: f.r}
	slow := newBackend(func(*Order, int) (int, error) { return 503, nil })
	cfg := func(c *StreamConfig) { c.ClaimIdle = 30 * time.Second }
	a := f.forwarderOn(t, l, "a", slow, 1000, cfg)
	stopA := runFw(t, a)
	within(t, 10*time.Second, "reads lost", func() bool { return int(l.lost.Load()) >= len(tickets) })
	l.open.Store(true)
	stopA()
	be := newBackend(func(*Order, int) (int, error) { return 201, nil })
	runFw(t, f.forwarder(t, "b", be, 1000, cfg))
	within(t, 15*time.Second, "delivered by the other instance", func() bool { return f.depth(t) == 0 })
	if orders, _ := be.count(); orders != len(tickets) {
		t.Errorf("%d orders at the backend, want %d", orders, len(tickets))
	}
}

// readTwo reads, as consumer "a", the entries of the first of the
// activity's shards Streams that holds two or more.
// readSold is a sale of 7 orders on a fresh Redis, its groups made,
// consumer a's forwarder (a backend that takes everything), and what
// readTwo read as a: the set-up of the takeover-round tests.
func readSold(t *testing.T, act string) (*fixture, *Forwarder, []stock.QueuedOrder, int) {
	t.Helper()
	f := newFixture(t, []string{redistest.Start(t).Addr()}, act, 10)
	f.sell(t, 7)
	fw := f.forwarder(t, "a", newBackend(func(*Order, int) (int, error) { return 201, nil }), 1000, nil)
	if err := f.r.CreateGroups(context.Background(), f.act, "orders"); err != nil {
		t.Fatal(err)
	}
	read, shard := readTwo(t, f, 3)
	return f, fw, read, shard
}

func readTwo(t *testing.T, f *fixture, shards int) ([]stock.QueuedOrder, int) {
	t.Helper()
	for s := range shards {
		qs, err := f.r.ReadOrders(context.Background(), f.act, s, "orders", "a", 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(qs) >= 2 {
			return qs, s
		}
	}
	t.Fatal("no Stream holds two orders")
	return nil, 0
}

// TestClaimedBackAfterLost: an entry given up here as taken over (its
// touch said so) that this round's XAUTOCLAIM moves back to this
// instance is worked on again, not skipped as finished: nobody else
// holds it any more.
func TestClaimedBackAfterLost(t *testing.T) {
	f, fw, read, shard := readSold(t, "claimback")
	ctx := context.Background()
	owned := fw.ownAll(read[:1], nil)
	time.Sleep(20 * time.Millisecond)
	fw.beginReads()
	claimed, _, err := f.r.ClaimIdle(ctx, f.act, shard, "orders", "a", 10*time.Millisecond, 10, "0-0")
	if err != nil {
		t.Fatal(err)
	}
	owned[0].lost.Store(true) // its goroutine gave it up as taken over
	fw.disown(owned[0])
	started := fw.ownAll(claimed, nil)
	found := false
	for _, it := range started {
		found = found || it.q.ID == read[0].ID
	}
	if !found {
		t.Fatalf("entry %s, given up as lost and claimed back here, was not started again", read[0].ID)
	}
}

// TestHandedBackUnsentIsNotUnconfirmed: orders a stopping instance hands
// back before their first send (waiting for a rate slot) were never at
// the backend: when the instance that takes them over gets only 5xx
// answers, they are dead-lettered attempts_exhausted with their units
// given back, not unconfirmed (the claim mark is set right before a
// send, so a handed-back order without one was not sent).
func TestHandedBackUnsentIsNotUnconfirmed(t *testing.T) {
	f := newFixture(t, []string{redistest.Start(t).Addr()}, "unsent", 5)
	tickets := f.sell(t, 2)
	pace := &gatedPacer{asked: make(chan struct{}), open: make(chan struct{})}
	a, err := NewForwarder(StreamConfig{Activities: []string{f.act}, Group: "orders", Consumer: "a", MaxInflight: 4,
		SendTimeout: time.Second, ClaimIdle: 30 * time.Second}, f.r, newBackend(func(*Order, int) (int, error) { return 201, nil }), pace)
	if err != nil {
		t.Fatal(err)
	}
	stopA := runFw(t, a)
	<-pace.asked // a holds them, waiting for a slot that never comes
	stopA()
	failing := newBackend(func(*Order, int) (int, error) { return 500, nil })
	runFw(t, f.forwarder(t, "b", failing, 1000, func(c *StreamConfig) { c.ClaimIdle = 30 * time.Second }))
	within(t, 20*time.Second, "all finished", func() bool { return f.depth(t) == 0 })
	for _, tk := range tickets {
		if st, _ := f.status(t, tk); st.State != Failed || st.Reason != ReasonExhausted {
			t.Errorf("%s: %+v, want failed attempts_exhausted (never sent before the takeover)", tk, st)
		}
	}
	if left := f.left(t); left != 5 {
		t.Errorf("left %d, want 5: units of orders the backend answered 5xx every time come back", left)
	}
}
