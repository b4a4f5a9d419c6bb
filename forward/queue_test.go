package forward

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock advances only when slept on, so pacing and backoff are exact
// and the tests wait for nothing real.
type fakeClock struct {
	mu     sync.Mutex
	t      time.Time
	sleeps []time.Duration
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	c.sleeps = append(c.sleeps, d)
	return nil
}

type reply struct {
	code       int
	err        error
	retryAfter time.Duration
}

// scripted answers each ticket's attempts in order from its script; the
// last reply repeats.
type scripted struct {
	mu      sync.Mutex
	scripts map[string][]reply
	sends   map[string]int
	clock   *fakeClock
	at      []time.Time // clock reading at each send
}

func (s *scripted) Send(ctx context.Context, o *Order) (Reply, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.clock != nil {
		s.at = append(s.at, s.clock.Now())
	}
	sc := s.scripts[o.Ticket]
	i := s.sends[o.Ticket]
	s.sends[o.Ticket]++
	if i >= len(sc) {
		i = len(sc) - 1
	}
	if i < 0 {
		return Reply{Status: 201, Body: []byte(`{"order":"` + o.Ticket + `"}`)}, nil
	}
	r := sc[i]
	if r.err != nil {
		return Reply{}, r.err
	}
	return Reply{Status: r.code, Body: []byte(fmt.Sprintf(`{"code":%d}`, r.code)), RetryAfter: r.retryAfter}, nil
}

type releases struct {
	mu   sync.Mutex
	n    map[string]int
	fail bool
}

func (r *releases) release(_ context.Context, o *Order) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n[o.Ticket]++
	if r.fail {
		return errors.New("store down")
	}
	return nil
}

// run starts q and returns a stop that cancels it and waits for Run.
func run(t *testing.T, q *Queue) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { q.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

// waitFinished polls until n orders are finished (bounded: 10 s).
// deliverOne runs a queue with cfg until o, answered by script, is
// finished (delivered or dead-lettered), units given back through rel.
func deliverOne(t *testing.T, cfg Config, o Order, script []reply, rel *releases) (*Queue, *scripted, Stats) {
	t.Helper()
	s := &scripted{scripts: map[string][]reply{o.Ticket: script}, sends: map[string]int{}}
	q, err := New(cfg, s, rel.release)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Enqueue(o); err != nil {
		t.Fatal(err)
	}
	run(t, q)
	return q, s, waitFinished(t, q, 1)
}

func waitFinished(t *testing.T, q *Queue, n uint64) Stats {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if s := q.Stats(); s.Delivered+s.DeadLettered >= n {
			return s
		}
	}
	t.Fatalf("orders not finished in 10 s: %+v", q.Stats())
	return Stats{}
}

func order(i int) Order {
	return Order{Ticket: fmt.Sprintf("a:u%d:%d", i, i), Activity: "a", User: fmt.Sprintf("u%d", i), Seq: int64(i), Body: []byte("{}")}
}

var errTimeout = errors.New("timeout")

func TestOutcomes(t *testing.T) {
	tests := []struct {
		name     string
		script   []reply
		state    State
		reason   string
		code     int
		attempts int
		released int
	}{
		{"created", []reply{{201, nil, 0}}, Delivered, "", 201, 1, 0},
		{"backend has the key", []reply{{409, nil, 0}}, Delivered, "", 409, 1, 0},
		{"rejected", []reply{{400, nil, 0}}, Failed, ReasonRejected, 400, 1, 1},
		{"5xx then created", []reply{{503, nil, 0}, {500, nil, 0}, {200, nil, 0}}, Delivered, "", 200, 3, 0},
		// No answer: the backend may hold the order, so the unit stays
		// sold (unconfirmed), whatever came after.
		{"timeouts exhaust the attempts", []reply{{0, errTimeout, 0}}, Failed, ReasonUnconfirmed, 0, 3, 0},
		{"a timeout, then 5xx, exhaust the attempts", []reply{{0, errTimeout, 0}, {502, nil, 0}}, Failed, ReasonUnconfirmed, 502, 3, 0},
		{"5xx exhaust the attempts", []reply{{502, nil, 0}}, Failed, ReasonExhausted, 502, 3, 1},
		// A 4xx after a send that went unanswered may be a proxy's, not
		// the backend's "no such order": the unit stays sold.
		{"no answer, then not found", []reply{{0, errTimeout, 0}, {404, nil, 0}}, Failed, ReasonUnconfirmed, 404, 2, 0},
		{"redirect is no order", []reply{{302, nil, 0}}, Failed, ReasonRejected, 302, 1, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := newFakeClock()
			o := order(1)
			rel := &releases{n: map[string]int{}}
			var dead []string // written before the status says failed, read after
			cfg := Config{Rate: 1000, Attempts: 3, Now: clk.Now, Sleep: clk.Sleep,
				DeadLetter: func(o *Order, reason string) { dead = append(dead, o.Ticket+" "+reason) }}
			q, s, st := deliverOne(t, cfg, o, tc.script, rel)
			got, ok := q.Status(o.Ticket, o.User)
			if !ok {
				t.Fatal("status of a finished order is gone")
			}
			if got.State != tc.state || got.Reason != tc.reason || got.Code != tc.code || got.Attempts != tc.attempts {
				t.Errorf("status = %v %q code %d after %d attempts, want %v %q code %d after %d",
					got.State, got.Reason, got.Code, got.Attempts, tc.state, tc.reason, tc.code, tc.attempts)
			}
			if s.sends[o.Ticket] != tc.attempts {
				t.Errorf("backend saw %d sends, want %d", s.sends[o.Ticket], tc.attempts)
			}
			if rel.n[o.Ticket] != tc.released {
				t.Errorf("released %d times, want %d", rel.n[o.Ticket], tc.released)
			}
			want := 0 // every dead letter is heard, its unit given back or not
			if tc.state == Failed {
				want = 1
			}
			if len(dead) != want || (want == 1 && dead[0] != o.Ticket+" "+tc.reason) {
				t.Errorf("dead letters heard: %q, want %d for %s %s", dead, want, o.Ticket, tc.reason)
			}
			if want := uint64(tc.attempts - 1); tc.state == Delivered && st.Retried != want {
				t.Errorf("retried %d, want %d", st.Retried, want)
			}
		})
	}
}

func TestStatusOnlyForItsUser(t *testing.T) {
	s := &scripted{scripts: map[string][]reply{}, sends: map[string]int{}}
	q, err := New(Config{Rate: 10}, s, (&releases{n: map[string]int{}}).release)
	if err != nil {
		t.Fatal(err)
	}
	o := order(7)
	if err := q.Enqueue(o); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, ticket, user string
		ok                 bool
	}{
		{"own user", o.Ticket, o.User, true},
		{"another user", o.Ticket, "u8", false},
		{"empty user", o.Ticket, "", false},
		{"unknown ticket", "a:u7:8", o.User, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, ok := q.Status(tc.ticket, tc.user)
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v", ok, tc.ok)
			}
			if ok && st.State != Queued {
				t.Errorf("state = %v before Run, want queued", st.State)
			}
		})
	}
	if err := q.Enqueue(o); err == nil {
		t.Error("a ticket queued twice was accepted")
	}
}

func TestRateSpacesSends(t *testing.T) {
	const n, rate = 20, 50.0 // one send per 20 ms of the fake clock
	clk := newFakeClock()
	s := &scripted{scripts: map[string][]reply{}, sends: map[string]int{}, clock: clk}
	// MaxInflight 1: a send is recorded before the next one is paced, so
	// the recorded times are the dispatch times.
	q, err := New(Config{Rate: rate, MaxInflight: 1, Now: clk.Now, Sleep: clk.Sleep}, s, (&releases{n: map[string]int{}}).release)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := q.Enqueue(order(i)); err != nil {
			t.Fatal(err)
		}
	}
	run(t, q)
	waitFinished(t, q, n)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.at) != n {
		t.Fatalf("%d sends, want %d", len(s.at), n)
	}
	for i := 1; i < n; i++ {
		if gap := s.at[i].Sub(s.at[i-1]); gap < 20*time.Millisecond {
			t.Errorf("sends %d and %d are %v apart, want >= 20ms at rate %v", i-1, i, gap, rate)
		}
	}
}

// blocking holds every send until released, counting those in flight.
type blocking struct {
	cur, max atomic.Int64
	gate     chan struct{}
}

func (b *blocking) Send(ctx context.Context, o *Order) (Reply, error) {
	c := b.cur.Add(1)
	for {
		m := b.max.Load()
		if c <= m || b.max.CompareAndSwap(m, c) {
			break
		}
	}
	defer b.cur.Add(-1)
	select {
	case <-b.gate:
		return Reply{Status: 201}, nil
	case <-ctx.Done():
		return Reply{}, ctx.Err()
	}
}

func TestMaxInflight(t *testing.T) {
	const n, inflight = 12, 3
	b := &blocking{gate: make(chan struct{})}
	q, err := New(Config{Rate: 1e6, MaxInflight: inflight}, b, (&releases{n: map[string]int{}}).release)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := q.Enqueue(order(i)); err != nil {
			t.Fatal(err)
		}
	}
	run(t, q)
	for deadline := time.Now().Add(10 * time.Second); b.cur.Load() < inflight; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("only %d sends in flight after 10 s, want %d", b.cur.Load(), inflight)
		}
	}
	for range n {
		b.gate <- struct{}{}
	}
	st := waitFinished(t, q, n)
	if st.Delivered != n {
		t.Errorf("delivered %d, want %d", st.Delivered, n)
	}
	if m := b.max.Load(); m != inflight {
		t.Errorf("at most %d sends in flight, want exactly max_inflight = %d", m, inflight)
	}
}

func TestCapacity(t *testing.T) {
	s := &scripted{scripts: map[string][]reply{}, sends: map[string]int{}}
	q, err := New(Config{Rate: 1e6, Capacity: 2}, s, (&releases{n: map[string]int{}}).release)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := q.Enqueue(order(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Enqueue(order(2)); !errors.Is(err, ErrFull) {
		t.Fatalf("third order: err = %v, want ErrFull", err)
	}
	run(t, q)
	waitFinished(t, q, 2)
	for i := 2; i < 4; i++ { // room again once delivered
		if err := q.Enqueue(order(i)); err != nil {
			t.Fatal(err)
		}
	}
	st := waitFinished(t, q, 4)
	if st.Full != 1 || st.Delivered != 4 {
		t.Errorf("stats = %+v, want Full 1, Delivered 4", st)
	}
	// Finished statuses are kept up to Capacity: the oldest are gone.
	if _, ok := q.Status(order(0).Ticket, order(0).User); ok {
		t.Error("the oldest finished status is still kept beyond capacity")
	}
	if st, ok := q.Status(order(3).Ticket, order(3).User); !ok || st.State != Delivered {
		t.Errorf("newest status = %v %v, want delivered", st.State, ok)
	}
	q.Close()
	if err := q.Enqueue(order(9)); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: err = %v, want ErrClosed", err)
	}
}

func TestReleaseFailureCounted(t *testing.T) {
	o := order(1)
	rel := &releases{n: map[string]int{}, fail: true}
	_, _, st := deliverOne(t, Config{Rate: 1e6}, o, []reply{{422, nil, 0}}, rel)
	if st.DeadLettered != 1 || st.ReleaseFailed != 1 || rel.n[o.Ticket] != 1 {
		t.Errorf("stats %+v, release calls %d; want one dead letter, one failed release, called once", st, rel.n[o.Ticket])
	}
}

func TestBackoff(t *testing.T) {
	base, max := 200*time.Millisecond, 10*time.Second
	tests := []struct {
		attempt int
		r       float64
		want    time.Duration
	}{
		{1, 0, 100 * time.Millisecond},
		{1, 0.999999, 200 * time.Millisecond},
		{2, 0, 200 * time.Millisecond},
		{3, 0.5, 600 * time.Millisecond}, // 800ms: 400 fixed + 200 of jitter
		{6, 0, 3200 * time.Millisecond},
		{7, 0, 5 * time.Second}, // 12.8s capped at 10s
		{60, 0.999999, 10 * time.Second},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("attempt %d r %v", tc.attempt, tc.r), func(t *testing.T) {
			got := Backoff(base, max, tc.attempt, tc.r)
			if d := got - tc.want; d < -time.Millisecond || d > time.Millisecond {
				t.Errorf("Backoff = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestNewRefusesNoRate(t *testing.T) {
	if _, err := New(Config{}, &scripted{}, nil); err == nil {
		t.Error("a queue without a rate was built")
	}
}

func TestNotSentUsesNoAttempt(t *testing.T) {
	o := order(1)
	notSent := fmt.Errorf("breaker open: %w", ErrNotSent)
	clk := newFakeClock()
	rel := &releases{n: map[string]int{}}
	q, _, _ := deliverOne(t, Config{Rate: 1000, Attempts: 2, Now: clk.Now, Sleep: clk.Sleep}, o,
		[]reply{{0, notSent, 0}, {0, notSent, 0}, {0, notSent, 0}, {201, nil, 0}}, rel)
	st, _ := q.Status(o.Ticket, o.User)
	if st.State != Delivered || st.Attempts != 1 || rel.n[o.Ticket] != 0 {
		t.Errorf("status %v after %d attempts, %d releases; want delivered after 1 (three refusals of an unsent order are no attempts), none released",
			st.State, st.Attempts, rel.n[o.Ticket])
	}
}

// Stats tells the depth (orders not finished) and the head's wait (the
// delivery lag) before the queue runs, and both fall to zero once it has
// delivered.
func TestStatsDepthAndHeadWait(t *testing.T) {
	clk := newFakeClock()
	s := &scripted{scripts: map[string][]reply{}, sends: map[string]int{}}
	q, err := New(Config{Rate: 1e6, Capacity: 10, Now: clk.Now, Sleep: clk.Sleep}, s, (&releases{n: map[string]int{}}).release)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := q.Enqueue(order(i)); err != nil {
			t.Fatal(err)
		}
		clk.Sleep(context.Background(), time.Second)
	}
	if st := q.Stats(); st.Depth != 3 || st.HeadWait != 3*time.Second {
		t.Fatalf("before delivery: depth %d, head wait %s; want 3 and 3s", st.Depth, st.HeadWait)
	}
	// The oldest order off the ready line (being sent, or waiting out a
	// backend outage for its retry) still heads it: the lag shows the
	// outage, as the Redis store's oldest Stream entry does.
	it := q.pop()
	if st := q.Stats(); st.Depth != 3 || st.HeadWait != 3*time.Second {
		t.Fatalf("with the oldest being sent: depth %d, head wait %s; want 3 and 3s", st.Depth, st.HeadWait)
	}
	q.push(it)
	run(t, q)
	if st := waitFinished(t, q, 3); st.Depth != 0 || st.HeadWait != 0 {
		t.Errorf("after delivery: depth %d, head wait %s; want 0 and 0", st.Depth, st.HeadWait)
	}
}

// TestOutageWaits: a backend that refuses connections (nothing leaves
// the gateway) or asks to be left alone (429, 503 + Retry-After) makes
// orders wait, using no attempt, until max_wait after their admission.
func TestOutageWaits(t *testing.T) {
	unreachable := fmt.Errorf("%w: connection refused", ErrUnreachable)
	down := make([]reply, 15) // 15 refusals (about 30 s of backoff): far past attempts 3, inside max_wait
	for i := range down {
		down[i] = reply{0, unreachable, 0}
	}
	tests := []struct {
		name     string
		script   []reply
		state    State
		reason   string
		attempts int
		sends    int
		minWait  time.Duration // the fake clock's total sleep, at least
	}{
		{"refused 15 times then created", append(append([]reply{}, down...), reply{201, nil, 0}), Delivered, "", 1, 16, 0},
		{"refused for ever: expired after max_wait", []reply{{0, unreachable, 0}}, Failed, ReasonExpired, 0, 0, 0},
		{"429 with Retry-After, then created", []reply{{429, nil, 3 * time.Second}, {429, nil, 3 * time.Second}, {201, nil, 0}}, Delivered, "", 1, 3, 6 * time.Second},
		{"503 with Retry-After uses no attempt", []reply{{503, nil, time.Second}, {503, nil, time.Second}, {503, nil, time.Second}, {201, nil, 0}}, Delivered, "", 1, 4, 3 * time.Second},
		{"refused, then 5xx: only the 5xx count", []reply{{0, unreachable, 0}, {0, unreachable, 0}, {500, nil, 0}}, Failed, ReasonExhausted, 3, 5, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := newFakeClock()
			o := order(1)
			rel := &releases{n: map[string]int{}}
			q, s, _ := deliverOne(t, Config{Rate: 1000, Attempts: 3, Backoff: 100 * time.Millisecond, BackoffMax: 5 * time.Second,
				MaxWait: time.Minute, Now: clk.Now, Sleep: clk.Sleep}, o, tc.script, rel)
			got, _ := q.Status(o.Ticket, o.User)
			if got.State != tc.state || got.Reason != tc.reason || got.Attempts != tc.attempts {
				t.Errorf("status = %v %q after %d attempts, want %v %q after %d", got.State, got.Reason, got.Attempts, tc.state, tc.reason, tc.attempts)
			}
			if tc.sends > 0 && s.sends[o.Ticket] != tc.sends {
				t.Errorf("%d sends, want %d", s.sends[o.Ticket], tc.sends)
			}
			if want := map[State]int{Delivered: 0, Failed: 1}[tc.state]; rel.n[o.Ticket] != want {
				t.Errorf("released %d times, want %d", rel.n[o.Ticket], want)
			}
			clk.mu.Lock()
			var slept time.Duration
			for _, d := range clk.sleeps {
				slept += d
			}
			clk.mu.Unlock()
			if slept < tc.minWait {
				t.Errorf("waited %v in all, want at least %v (Retry-After)", slept, tc.minWait)
			}
			if tc.reason == ReasonExpired && (slept > time.Minute || slept < time.Minute-5*time.Second) {
				t.Errorf("expired after %v of waiting, want just under max_wait (1m)", slept)
			}
		})
	}
}
