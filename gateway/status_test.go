package gateway

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/stock"
)

// slowStore is a remote-looking store whose Counts counts its calls and,
// while gate is set, waits for it to close: a slow Redis, made slow only
// when a test says so.
type slowStore struct {
	stock.Store
	reads    atomic.Int64
	gate     atomic.Pointer[chan struct{}]
	entered  chan struct{}
	deadline atomic.Pointer[time.Time]
}

func (s *slowStore) Counts(ctx context.Context, activity string) (stock.Counts, error) {
	s.reads.Add(1)
	if d, ok := ctx.Deadline(); ok {
		s.deadline.Store(&d)
	}
	if g := s.gate.Load(); g != nil {
		s.entered <- struct{}{}
		<-*g
	}
	return s.Store.Counts(ctx, activity)
}

func (s *slowStore) block() chan struct{} {
	g := make(chan struct{})
	s.gate.Store(&g)
	return g
}

func newStatusEndpoint(t *testing.T, st stock.Store, clock func() time.Time, redisTimeout time.Duration) (*activityStatus, *Activity) {
	t.Helper()
	act := NewActivity(0, conf.Activity{ID: "phone-sale", Product: "phone-x", Stock: 3, Shards: 1, PerUser: 1})
	env := NewEnv()
	env.Units, env.Now = NewUnits(st, nil), clock
	t.Cleanup(func() { _ = env.Units.Close() })
	env.Activities = []*Activity{act}
	env.AllActivities[act.ID] = act
	env.Config = &conf.Config{Redis: conf.Redis{Timeout: redisTimeout}}
	e, err := newActivityStatus(env)
	if err != nil {
		t.Fatal(err)
	}
	return e.(*activityStatus), act
}

func statusRequest(e *activityStatus, act *Activity) []byte {
	ctx := new(fasthttp.RequestCtx)
	e.Respond(&Request{Ctx: ctx, Activity: act})
	return append([]byte(nil), ctx.Response.Body()...)
}

// TestActivityStatusSingleFlight: under concurrent requests the status
// endpoint reads the store at most once per refresh interval. While the
// one read is slow, the others do not pile onto the store: before the
// first body exists they wait for it, afterwards they serve the previous
// body at once.
func TestActivityStatusSingleFlight(t *testing.T) {
	mem := stock.NewMemory()
	t.Cleanup(func() { _ = mem.Close() })
	if err := mem.Warm(bgCtx(), stock.Spec{Activity: "phone-sale", Stock: 3, Shards: 1, PerUser: 1}, false); err != nil {
		t.Fatal(err)
	}
	st := &slowStore{Store: mem, entered: make(chan struct{}, 64)}
	clock := &manualClock{t: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
	e, act := newStatusEndpoint(t, st, clock.Now, 100*time.Millisecond)
	const n = 32

	// The first body: one read, every request gets its answer.
	gate := st.block()
	var wg sync.WaitGroup
	bodies := make([][]byte, n)
	for i := range n {
		wg.Add(1)
		go func() { defer wg.Done(); bodies[i] = statusRequest(e, act) }()
	}
	<-st.entered
	time.Sleep(20 * time.Millisecond) // let the others arrive (correct either way)
	st.gate.Store(nil)
	close(gate)
	wg.Wait()
	if got := st.reads.Load(); got != 1 {
		t.Fatalf("first interval: %d store reads for %d concurrent requests, want 1", got, n)
	}
	for i, b := range bodies {
		if string(b) != string(bodies[0]) || len(b) == 0 {
			t.Fatalf("request %d got %q, want the one body %q", i, b, bodies[0])
		}
	}

	// Within the interval nothing reads the store.
	if _, err := mem.Take(bgCtx(), "phone-sale", []byte("alice")); err != nil {
		t.Fatal(err)
	}
	for range n {
		statusRequest(e, act)
	}
	if got := st.reads.Load(); got != 1 {
		t.Fatalf("same interval: %d store reads, want still 1", got)
	}

	// The interval passes: one request rebuilds, held up by a slow read;
	// all the others are answered meanwhile with the previous body.
	clock.Advance(e.refresh)
	gate = st.block()
	rebuilt := make(chan []byte)
	go func() { rebuilt <- statusRequest(e, act) }()
	<-st.entered
	for i := range n {
		if b := statusRequest(e, act); string(b) != string(bodies[0]) {
			t.Fatalf("request %d during the rebuild got %q, want the previous body", i, b)
		}
	}
	st.gate.Store(nil)
	close(gate)
	fresh := <-rebuilt
	if got := st.reads.Load(); got != 2 {
		t.Fatalf("second interval: %d store reads, want 2", got)
	}
	if !strings.Contains(string(fresh), `"stock_left":2`) {
		t.Errorf("rebuilt body %s lacks the sale", fresh)
	}
	if b := statusRequest(e, act); string(b) != string(fresh) {
		t.Errorf("after the rebuild: %s, want %s", b, fresh)
	}
}

// TestActivityStatusTimeout: a stock read is bounded by redis.timeout,
// not by a number of its own.
func TestActivityStatusTimeout(t *testing.T) {
	mem := stock.NewMemory()
	t.Cleanup(func() { _ = mem.Close() })
	st := &slowStore{Store: mem, entered: make(chan struct{}, 1)}
	const timeout = 1234 * time.Millisecond
	e, act := newStatusEndpoint(t, st, time.Now, timeout)
	before := time.Now()
	statusRequest(e, act)
	after := time.Now()
	d := st.deadline.Load()
	if d == nil {
		t.Fatal("the stock read had no deadline")
	}
	if d.Before(before.Add(timeout)) || d.After(after.Add(timeout)) {
		t.Errorf("deadline %v after the request began, want redis.timeout %v", d.Sub(before), timeout)
	}
}
