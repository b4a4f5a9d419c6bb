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
	var read []stock.QueuedOrder
	var shard int
	for s := range n {
		qs, err := f.r.ReadOrders(ctx, f.act, s, "orders", "a", 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(qs) >= 2 {
			read, shard = qs, s
			break
		}
	}
	if len(read) < 2 {
		t.Fatal("no Stream holds two orders")
	}
	owned := fw.ownAll(read[:1], nil) // the first one is under way here
	l.item = owned[0]
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
