package forward

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flashgate/flashgate/internal/redistest"
	"github.com/flashgate/flashgate/stock"
)

// countingLog counts the entries a forwarder holds: read (or claimed)
// and not yet acked.
type countingLog struct {
	*stock.RedisStore
	held, peak atomic.Int64
}

func (l *countingLog) add(n int) {
	v := l.held.Add(int64(n))
	for p := l.peak.Load(); v > p && !l.peak.CompareAndSwap(p, v); p = l.peak.Load() {
	}
}

func (l *countingLog) ReadOrders(ctx context.Context, a string, s int, g, c string, n int) ([]stock.QueuedOrder, error) {
	qs, err := l.RedisStore.ReadOrders(ctx, a, s, g, c, n)
	l.add(len(qs))
	return qs, err
}

func (l *countingLog) ClaimIdle(ctx context.Context, a string, s int, g, c string, idle time.Duration, n int, cur string) ([]stock.QueuedOrder, string, error) {
	qs, next, err := l.RedisStore.ClaimIdle(ctx, a, s, g, c, idle, n, cur)
	l.add(len(qs))
	return qs, next, err
}

func (l *countingLog) Finish(ctx context.Context, q *stock.QueuedOrder, g, dead string) (bool, error) {
	ok, err := l.RedisStore.Finish(ctx, q, g, dead)
	if err == nil {
		l.add(-1)
	}
	return ok, err
}

// TestForwarderReadsWhatItStarts: a forwarder holds no more entries than
// its max_inflight, however many shards it reads: an entry read beyond
// the free slots would wait for one untouched (for as long as the shared
// rate makes a slot wait), look idle, and be taken over from a living
// instance.
func TestForwarderReadsWhatItStarts(t *testing.T) {
	f := newFixture(t, []string{redistest.Start(t).Addr()}, "overread", 10)
	tickets := f.sell(t, 6)
	be := newBackend(func(*Order, int) (int, error) { time.Sleep(50 * time.Millisecond); return 201, nil })
	l := &countingLog{RedisStore: f.r}
	fw := f.forwarderOn(t, l, "a", be, 1000, func(c *StreamConfig) { c.MaxInflight = 1 })
	runFw(t, fw)
	within(t, 20*time.Second, "all delivered", func() bool { return f.depth(t) == 0 })
	if orders, sends := be.count(); orders != len(tickets) || sends != len(tickets) {
		t.Errorf("%d sends of %d orders (%d sold)", sends, orders, len(tickets))
	}
	if p := l.peak.Load(); p > 1 {
		t.Errorf("held %d entries at once with max_inflight 1 (3 shards)", p)
	}
}
