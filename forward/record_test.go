package forward

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/flashgate/flashgate/internal/redistest"
	"github.com/flashgate/flashgate/stock"
)

// flakyStatus is the Redis store with PutOrderStatus failing the first
// fails times for each order, as when Redis dies between the backend's
// answer and the status write.
type flakyStatus struct {
	*stock.RedisStore
	fails int
	mu    sync.Mutex
	tries map[int64]int
}

var errRedisDown = errors.New("redis down")

func (s *flakyStatus) PutOrderStatus(ctx context.Context, activity, user string, seq int64, rec []byte, ttl time.Duration) error {
	s.mu.Lock()
	s.tries[seq]++
	n := s.tries[seq]
	s.mu.Unlock()
	if n <= s.fails {
		return errRedisDown
	}
	return s.RedisStore.PutOrderStatus(ctx, activity, user, seq, rec, ttl)
}

// TestForwarderRetriesStatusRecord: a delivered order whose status write
// fails is not acked without it: its poll must not read "queued" for
// ever (the ledger entry of a delivered unit stays held).
func TestForwarderRetriesStatusRecord(t *testing.T) {
	f := newFixture(t, []string{redistest.Start(t).Addr()}, "record", 5)
	tickets := f.sell(t, 5)
	be := newBackend(func(*Order, int) (int, error) { return 201, nil })
	fw := f.forwarder(t, "a", be, 1000, func(c *StreamConfig) { c.PollMax = 5 * time.Millisecond })
	fw.log = &flakyStatus{RedisStore: f.r, fails: 2, tries: map[int64]int{}}
	runFw(t, fw)
	within(t, 10*time.Second, "streams empty", func() bool { return f.depth(t) == 0 })
	for _, tk := range tickets {
		if st, state := f.status(t, tk); state != stock.OrderRecorded || st.State != Delivered {
			t.Errorf("status of %s: %+v (%d), want delivered", tk, st, state)
		}
	}
	if _, sends := be.count(); sends != len(tickets) {
		t.Errorf("%d sends for %d orders", sends, len(tickets))
	}
}
