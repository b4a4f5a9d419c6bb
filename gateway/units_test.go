package gateway

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/internal/demobackend"
	"github.com/flashgate/flashgate/stock"
)

// gatedStore is a remote-looking store (not IsLocal) whose Release waits
// for gate, then answers fail or gives the unit back: a slow or failing
// Redis, made so only where a test says.
type gatedStore struct {
	stock.Store
	gate     chan struct{}
	released chan struct{} // one value per Release that returned
	fail     error
}

func newGatedStore(t *testing.T) *gatedStore {
	t.Helper()
	st := stock.NewMemory()
	t.Cleanup(func() { _ = st.Close() })
	return &gatedStore{Store: st, gate: make(chan struct{}), released: make(chan struct{}, 16)}
}

func (s *gatedStore) Release(ctx context.Context, activity string, user []byte, seq int64) (bool, error) {
	defer func() { s.released <- struct{}{} }()
	select {
	case <-s.gate:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	if s.fail != nil {
		return false, s.fail
	}
	return s.Store.Release(ctx, activity, user, seq)
}

func waitReleased(t *testing.T, s *gatedStore) {
	t.Helper()
	select {
	case <-s.released:
	case <-time.After(10 * time.Second):
		t.Fatal("the give-back never ran")
	}
}

// TestProxyAnswersBeforeRelease: a backend error is answered while the
// store has not given the unit back yet (the client does not wait for
// Redis), and the unit comes back once the store answers.
func TestProxyAnswersBeforeRelease(t *testing.T) {
	_, addr, _ := startBackend(t, demobackend.Options{FailRate: 1})
	st := newGatedStore(t)
	act := NewActivity(0, conf.Activity{ID: "phone-sale", Stock: 2, Shards: 1, PerUser: 1})
	if err := st.Warm(bgCtx(), SpecOf(act), false); err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t, proxyYAML(addr, "2s"), Deps{Stock: st})
	before := value(stockReleasesTotal.WithLabelValues("phone-sale", "backend_rejected"))
	if r := ts.do(t, "POST", "/buy/phone-sale", "X-User-Id", "u1"); r.StatusCode() != 500 {
		t.Fatalf("status %d", r.StatusCode())
	}
	// Answered, and the store still holds the unit: the release waits.
	if left, _ := st.Left(bgCtx(), "phone-sale"); left != 1 {
		t.Fatalf("left %d while the release is held, want 1", left)
	}
	close(st.gate)
	waitReleased(t, st)
	if left, _ := st.Left(bgCtx(), "phone-sale"); left != 2 {
		t.Fatalf("left %d after the release, want 2", left)
	}
	// The worker counts once the store's call has returned: wait, bounded.
	var got float64
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if got = value(stockReleasesTotal.WithLabelValues("phone-sale", "backend_rejected")) - before; got >= 1 {
			break
		}
	}
	if got != 1 {
		t.Fatalf("releases counted %v, want 1", got)
	}
}

// TestGiveBackFailureCounted: a give-back the store refuses is counted
// in flashgate_stock_release_failures_total, and the unit stays held.
func TestGiveBackFailureCounted(t *testing.T) {
	st := newGatedStore(t)
	st.fail = errors.New("redis down")
	close(st.gate)
	act := NewActivity(0, conf.Activity{ID: "fail-sale", Stock: 1, Shards: 1, PerUser: 1})
	if err := st.Warm(bgCtx(), SpecOf(act), false); err != nil {
		t.Fatal(err)
	}
	d, _ := st.Take(bgCtx(), act.ID, []byte("u1"))
	u := NewUnits(st, nil)
	defer u.Close()
	failures := stockReleaseFailures.WithLabelValues(act.ID, "pool_full")
	before := value(failures)
	r := &Request{Activity: act, User: []byte("u1"), Ticket: Ticket{Held: true, Seq: d.Seq}}
	u.GiveBack(r, "pool_full")
	waitReleased(t, st)
	_ = u.Close() // the worker has counted once Close returns
	if got := value(failures) - before; got != 1 {
		t.Fatalf("failures counted %v, want 1", got)
	}
	if left, _ := st.Left(bgCtx(), act.ID); left != 0 {
		t.Fatalf("a failed release gave the unit back: left %d", left)
	}
}

// TestUnitsCloseDrains: Close gives back what is queued before it
// returns, and a give-back after Close runs in the caller.
func TestUnitsCloseDrains(t *testing.T) {
	st := newGatedStore(t)
	act := NewActivity(0, conf.Activity{ID: "drain-sale", Stock: 3, Shards: 1, PerUser: 3})
	if err := st.Warm(bgCtx(), SpecOf(act), false); err != nil {
		t.Fatal(err)
	}
	u := NewUnits(st, nil)
	var seqs []int64
	for range 3 {
		d, _ := st.Take(bgCtx(), act.ID, []byte("u1"))
		seqs = append(seqs, d.Seq)
	}
	for _, s := range seqs[:2] {
		u.GiveBack(&Request{Activity: act, User: []byte("u1"), Ticket: Ticket{Held: true, Seq: s}}, "backend_rejected")
	}
	close(st.gate)
	_ = u.Close()
	if left, _ := st.Left(bgCtx(), act.ID); left != 2 {
		t.Fatalf("left %d after Close, want 2", left)
	}
	u.GiveBack(&Request{Activity: act, User: []byte("u1"), Ticket: Ticket{Held: true, Seq: seqs[2]}}, "backend_rejected")
	if left, _ := st.Left(bgCtx(), act.ID); left != 3 {
		t.Fatalf("left %d after a give-back past Close, want 3", left)
	}
}

// value reads a counter.
func value(c prometheus.Counter) float64 {
	var m dto.Metric
	_ = c.Write(&m)
	return m.GetCounter().GetValue()
}
