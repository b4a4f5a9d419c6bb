package forward

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/flashgate/flashgate/internal/redisgcra"
	"github.com/flashgate/flashgate/internal/redistest"
	"github.com/flashgate/flashgate/stock"
)

// backend is a test Sender that records every send by ticket (allowing
// duplicates) and answers with reply.
type backend struct {
	mu       sync.Mutex
	sends    map[string]int
	times    []time.Time
	inflight atomic.Int64
	peak     atomic.Int64
	reply    func(o *Order, n int) (int, error) // n: sends of this ticket so far, 1-based
	// hang, when set, makes every send wait for ctx: an instance that
	// dies mid-send.
	hang bool
}

func newBackend(reply func(o *Order, n int) (int, error)) *backend {
	return &backend{sends: map[string]int{}, reply: reply}
}

func (b *backend) Send(ctx context.Context, o *Order) (Reply, error) {
	in := b.inflight.Add(1)
	defer b.inflight.Add(-1)
	for p := b.peak.Load(); in > p && !b.peak.CompareAndSwap(p, in); p = b.peak.Load() {
	}
	b.mu.Lock()
	b.sends[o.Ticket]++
	n := b.sends[o.Ticket]
	b.times = append(b.times, time.Now())
	b.mu.Unlock()
	if b.hang {
		<-ctx.Done()
		return Reply{}, ctx.Err()
	}
	code, err := b.reply(o, n)
	if err != nil {
		return Reply{}, err
	}
	return Reply{Status: code, Body: []byte(`{"ok":true}`)}, nil
}

func (b *backend) count() (orders, sends int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, n := range b.sends {
		orders++
		sends += n
	}
	return orders, sends
}

type fixture struct {
	r      *stock.RedisStore
	client rueidis.Client
	act    string
	stock  int64
}

func newFixture(t *testing.T, addrs []string, act string, units int64) *fixture {
	t.Helper()
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: addrs, DisableCache: true, Dialer: net.Dialer{Timeout: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	s, err := stock.NewRedis(stock.RedisOptions{Client: c, Prefix: "fg:", Timeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Warm(ctx, stock.Spec{Activity: act, Stock: units, Shards: 3, PerUser: 1}, false); err != nil {
		t.Fatal(err)
	}
	return &fixture{r: s.(*stock.RedisStore), client: c, act: act, stock: units}
}

// sell admits n orders from distinct users and returns their tickets.
func (f *fixture) sell(t *testing.T, n int) []string {
	t.Helper()
	var tickets []string
	for i := range n {
		u := "buyer" + strconv.Itoa(i)
		b, err := AppendOrder(nil, &Order{Method: "POST", Path: "/orders", Body: []byte(`{"u":"` + u + `"}`)})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		d, err := f.r.TakeOrder(ctx, f.act, []byte(u), b)
		cancel()
		if err != nil || d.Result != stock.Admitted {
			t.Fatalf("TakeOrder(%s) = %+v, %v", u, d, err)
		}
		tickets = append(tickets, f.act+":"+u+":"+strconv.FormatInt(d.Seq, 10))
	}
	return tickets
}

func (f *fixture) forwarder(t *testing.T, consumer string, send Sender, rate float64, edit func(*StreamConfig)) *Forwarder {
	t.Helper()
	return f.forwarderOn(t, f.r, consumer, send, rate, edit)
}

// killedForwarder is a forwarder that kill turns into a SIGKILLed
// instance: from then on nothing it writes reaches Redis (no record, no
// ack, no hand-back), so its stop leaves its entries pending as a SIGKILL
// does.
func (f *fixture) killedForwarder(t *testing.T, consumer string, send Sender, rate float64, edit func(*StreamConfig)) (fw *Forwarder, kill func()) {
	t.Helper()
	l := &killedLog{RedisStore: f.r}
	return f.forwarderOn(t, l, consumer, send, rate, edit), func() { l.dead.Store(true) }
}

type killedLog struct {
	*stock.RedisStore
	dead atomic.Bool
}

func (l *killedLog) HandBack(ctx context.Context, a string, s int, g, c string, ids []string) (int, error) {
	if l.dead.Load() {
		return 0, nil
	}
	return l.RedisStore.HandBack(ctx, a, s, g, c, ids)
}

func (l *killedLog) Finish(ctx context.Context, q *stock.QueuedOrder, g, dead string) (bool, error) {
	if l.dead.Load() {
		return false, nil
	}
	return l.RedisStore.Finish(ctx, q, g, dead)
}

func (l *killedLog) Release(ctx context.Context, a string, u []byte, seq int64) (bool, error) {
	if l.dead.Load() {
		return false, nil
	}
	return l.RedisStore.Release(ctx, a, u, seq)
}

func (l *killedLog) PutOrderStatus(ctx context.Context, a, u string, seq int64, rec []byte, ttl time.Duration) error {
	if l.dead.Load() {
		return nil
	}
	return l.RedisStore.PutOrderStatus(ctx, a, u, seq, rec, ttl)
}

func (l *killedLog) PutQueuedStatus(ctx context.Context, a, u string, seq int64, rec []byte, ttl time.Duration) error {
	if l.dead.Load() {
		return nil
	}
	return l.RedisStore.PutQueuedStatus(ctx, a, u, seq, rec, ttl)
}

func (f *fixture) forwarderOn(t *testing.T, log StreamLog, consumer string, send Sender, rate float64, edit func(*StreamConfig)) *Forwarder {
	t.Helper()
	cfg := StreamConfig{Activities: []string{f.act}, Group: "orders", Consumer: consumer, MaxInflight: 4,
		Attempts: 3, Backoff: 5 * time.Millisecond, BackoffMax: 20 * time.Millisecond, SendTimeout: time.Second, ClaimIdle: 2 * time.Second}
	if edit != nil {
		edit(&cfg)
	}
	pace := redisgcra.NewReserver(f.client, "fg:q:{"+f.act+"}", rate, cfg.MaxInflight, time.Second)
	fw, err := NewForwarder(cfg, log, send, pace)
	if err != nil {
		t.Fatal(err)
	}
	return fw
}

func runFw(t *testing.T, fw *Forwarder) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); fw.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Error("forwarder did not stop within 10s")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func within(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for start := time.Now(); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Since(start) > d {
			t.Fatalf("%s: not within %v", what, d)
		}
	}
}

func (f *fixture) depth(t *testing.T) int64 {
	t.Helper()
	n, _, err := f.r.QueueDepth(context.Background(), f.act)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (f *fixture) status(t *testing.T, ticket string) (Status, stock.OrderState) {
	t.Helper()
	act, user, seq := splitTicket(t, ticket)
	b, state, err := f.r.OrderStatus(context.Background(), act, user, seq)
	if err != nil {
		t.Fatal(err)
	}
	if state != stock.OrderRecorded {
		return Status{}, state
	}
	st, err := ParseStatus(b)
	if err != nil {
		t.Fatal(err)
	}
	return st, state
}

func splitTicket(t *testing.T, ticket string) (string, string, int64) {
	t.Helper()
	var parts []string
	last := 0
	for i := 0; i < len(ticket); i++ {
		if ticket[i] == ':' {
			parts = append(parts, ticket[last:i])
			last = i + 1
		}
	}
	parts = append(parts, ticket[last:])
	seq, err := strconv.ParseInt(parts[2], 10, 64)
	if len(parts) != 3 || err != nil {
		t.Fatalf("ticket %q", ticket)
	}
	return parts[0], parts[1], seq
}

func (f *fixture) left(t *testing.T) int64 {
	t.Helper()
	n, err := f.r.Left(context.Background(), f.act)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func topologies(t *testing.T) map[string][]string {
	return map[string][]string{
		"standalone": {redistest.Start(t).Addr()},
		"cluster":    redistest.StartCluster(t, 3).Addrs(),
	}
}

// TestForwarderDelivers: every admitted order reaches the backend once,
// no more than max_inflight at a time, at no more than the shared rate;
// the Streams end empty and every ticket has its status.
func TestForwarderDelivers(t *testing.T) {
	for name, addrs := range topologies(t) {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, addrs, "deliver", 40)
			tickets := f.sell(t, 30)
			be := newBackend(func(*Order, int) (int, error) { time.Sleep(5 * time.Millisecond); return 201, nil })
			const rate = 100
			start := time.Now()
			runFw(t, f.forwarder(t, "a", be, rate, nil))
			within(t, 30*time.Second, "all delivered", func() bool { n, _ := be.count(); return n == len(tickets) })
			_, sends := be.count()
			if sends != len(tickets) {
				t.Errorf("%d sends for %d orders: a duplicate", sends, len(tickets))
			}
			if p := be.peak.Load(); p > 4 {
				t.Errorf("peak concurrency %d > max_inflight 4", p)
			}
			// 30 sends at 100/s with a burst of 1 take at least ~290 ms.
			if span := be.times[len(be.times)-1].Sub(start); span < 250*time.Millisecond {
				t.Errorf("30 sends in %v: faster than the rate of %d/s", span, rate)
			}
			within(t, 5*time.Second, "streams empty", func() bool { return f.depth(t) == 0 })
			for _, tk := range tickets {
				if st, state := f.status(t, tk); state != stock.OrderRecorded || st.State != Delivered || st.Code != 201 {
					t.Fatalf("status of %s: %+v (%d)", tk, st, state)
				}
			}
			if f.left(t) != 10 {
				t.Errorf("left %d, want 10", f.left(t))
			}
		})
	}
}

// TestForwarderOutcomes: retries, dead letters that release exactly once,
// and a breaker that refuses without burning attempts.
func TestForwarderOutcomes(t *testing.T) {
	addrs := []string{redistest.Start(t).Addr()}
	tests := []struct {
		name      string
		reply     func(o *Order, n int) (int, error)
		wantState State
		reason    string
		wantSends int // per order
		wantDups  uint64
	}{
		{"503 twice then 201: delivered on the third attempt", func(_ *Order, n int) (int, error) {
			if n < 3 {
				return 503, nil
			}
			return 201, nil
		}, Delivered, "", 3, 0},
		{"409: the backend has it, delivered", func(*Order, int) (int, error) { return 409, nil }, Delivered, "", 1, 0},
		{"400: dead-lettered at once, unit back", func(*Order, int) (int, error) { return 400, nil }, Failed, ReasonRejected, 1, 0},
		{"500 always: dead-lettered after 3 attempts, unit back", func(*Order, int) (int, error) { return 500, nil }, Failed, ReasonExhausted, 3, 0},
		{"no answer, then 500: dead-lettered unconfirmed, the unit stays sold", func(_ *Order, n int) (int, error) {
			if n == 1 {
				return 0, context.DeadlineExceeded
			}
			return 500, nil
		}, Failed, ReasonUnconfirmed, 3, 3},
		{"refused connection: retried like a 5xx", func(_ *Order, n int) (int, error) {
			if n == 1 {
				return 0, &net.OpError{Op: "dial", Err: context.DeadlineExceeded}
			}
			return 200, nil
		}, Delivered, "", 2, 3},
		{"unreachable (never left the gateway): retried, no possible duplicate", func(_ *Order, n int) (int, error) {
			if n == 1 {
				return 0, fmt.Errorf("%w: dial tcp: connection refused", ErrUnreachable)
			}
			return 200, nil
		}, Delivered, "", 2, 0},
		{"breaker open 5 times: no attempt used, then delivered", func(_ *Order, n int) (int, error) {
			if n <= 5 {
				return 0, ErrNotSent
			}
			return 200, nil
		}, Delivered, "", 6, 0},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, addrs, "out"+strconv.Itoa(i), 5)
			tickets := f.sell(t, 3)
			be := newBackend(tc.reply)
			fw := f.forwarder(t, "a", be, 1000, nil)
			runFw(t, fw)
			within(t, 30*time.Second, "all finished", func() bool { return f.depth(t) == 0 })
			for _, tk := range tickets {
				st, state := f.status(t, tk)
				if state != stock.OrderRecorded || st.State != tc.wantState || st.Reason != tc.reason {
					t.Errorf("status of %s: %+v (%d), want %v %q", tk, st, state, tc.wantState, tc.reason)
				}
				be.mu.Lock()
				n := be.sends[tk]
				be.mu.Unlock()
				if n != tc.wantSends {
					t.Errorf("%s sent %d times, want %d", tk, n, tc.wantSends)
				}
			}
			if d := fw.Stats().RetryAfterTimeout; d != tc.wantDups {
				t.Errorf("retries after no answer (possible duplicates) %d, want %d", d, tc.wantDups)
			}
			wantLeft := int64(2)
			if tc.wantState == Failed {
				wantLeft = 5
				if tc.reason == ReasonUnconfirmed {
					wantLeft = 2 // the backend may hold them: not given back
				}
				if s := fw.Stats(); s.DeadLettered != 3 || s.Dead[deadIndex(tc.reason)] != 3 {
					t.Errorf("dead letters %d (by reason %v), want 3, all %s", s.DeadLettered, s.Dead, tc.reason)
				}
			}
			if l := f.left(t); l != wantLeft {
				t.Errorf("left %d, want %d (a unit released twice or not at all)", l, wantLeft)
			}
		})
	}
}

// TestForwarderTakesOverDead: an instance dies with orders it had sent
// but not acked; another takes them over after claim_idle and sends them
// again (same key): the only duplicates, at most the dead one's
// max_inflight.
func TestForwarderTakesOverDead(t *testing.T) {
	for name, addrs := range topologies(t) {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, addrs, "takeover", 20)
			tickets := f.sell(t, 12)
			dead := newBackend(nil)
			dead.hang = true
			fwA, kill := f.killedForwarder(t, "dead", dead, 1000, func(c *StreamConfig) { c.MaxInflight = 3 })
			stopA := runFw(t, fwA)
			within(t, 10*time.Second, "the doomed instance sends", func() bool { return dead.inflight.Load() == 3 })
			kill()
			stopA() // its goroutines end; its entries stay pending, claimed (D), as after a SIGKILL

			live := newBackend(func(*Order, int) (int, error) { return 201, nil })
			fw := f.forwarder(t, "live", live, 1000, func(c *StreamConfig) { c.ClaimIdle = 300 * time.Millisecond })
			runFw(t, fw)
			within(t, 30*time.Second, "all delivered by the live one", func() bool { n, _ := live.count(); return n == len(tickets) })
			within(t, 5*time.Second, "streams empty", func() bool { return f.depth(t) == 0 })
			if s := fw.Stats(); s.ClaimedFromDead != 3 {
				t.Errorf("claimed_from_dead %d, want 3 (the dead one's sends)", s.ClaimedFromDead)
			}
			_, sends := live.count()
			if sends != len(tickets) {
				t.Errorf("live backend saw %d sends for %d orders", sends, len(tickets))
			}
		})
	}
}

// dyingSender answers a first send 500 (a counted attempt, which the
// interim record keeps) and holds every later one until its instance
// stops.
type dyingSender struct{ n atomic.Int32 }

func (d *dyingSender) Send(ctx context.Context, _ *Order) (Reply, error) {
	if d.n.Add(1) == 1 {
		return Reply{Status: 500}, nil
	}
	<-ctx.Done()
	return Reply{}, ctx.Err()
}

// TestTakeoverKeepsAttempts: an order that failed on an instance that
// then died keeps the attempts it used (its interim record) when another
// instance takes it over: attempts is a bound on the order's sends, not
// on each instance's.
func TestTakeoverKeepsAttempts(t *testing.T) {
	addrs := []string{redistest.Start(t).Addr()}
	f := newFixture(t, addrs, "keep", 5)
	tickets := f.sell(t, 1)
	doomed := &dyingSender{}
	fwA, kill := f.killedForwarder(t, "doomed", doomed, 1000, nil)
	stopA := runFw(t, fwA)
	within(t, 10*time.Second, "the second send", func() bool { return doomed.n.Load() == 2 })
	kill()
	stopA() // the second send never ends: the instance dies in it

	live := newBackend(func(*Order, int) (int, error) { return 500, nil })
	runFw(t, f.forwarder(t, "live", live, 1000, func(c *StreamConfig) { c.ClaimIdle = 300 * time.Millisecond }))
	within(t, 30*time.Second, "finished", func() bool { return f.depth(t) == 0 })
	st, _ := f.status(t, tickets[0])
	_, sends := live.count()
	// attempts 3: one used before the death, so the live one has two.
	// The dead instance's send never got an answer: the order may be at
	// the backend, so its unit stays sold (unconfirmed).
	if st.State != Failed || st.Reason != ReasonUnconfirmed || sends != 2 || st.Attempts != 3 {
		t.Errorf("final %+v after %d sends by the live instance; want unconfirmed at 3 attempts, 2 of them there", st, sends)
	}
	if left := f.left(t); left != 4 {
		t.Errorf("left %d after an unconfirmed order, want 4: its unit stays sold", left)
	}
}

// TestForwarderStopHandsBack: a forwarder that stops (SIGTERM) finishes
// the sends it has under way and hands back the orders waiting for a
// retry, so another instance takes them over at once, long before
// ClaimIdle, and no order reaches the backend twice.
func TestForwarderStopHandsBack(t *testing.T) {
	for name, addrs := range topologies(t) {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, addrs, "handback", 20)
			tickets := f.sell(t, 8)
			long := func(c *StreamConfig) {
				c.MaxInflight, c.ClaimIdle, c.SendTimeout, c.Attempts = 4, time.Minute, 5*time.Second, 100
				c.Backoff, c.BackoffMax = 10*time.Second, 10*time.Second // a retry waits past the stop
			}
			// The first three sends fail (retries waiting at the stop);
			// the next two are under way, slow, when the stop comes.
			var sends atomic.Int32
			release := make(chan struct{})
			var mu sync.Mutex
			acceptedByA := map[string]bool{}
			a := newBackend(func(o *Order, _ int) (int, error) {
				if sends.Add(1) <= 3 {
					return 503, nil
				}
				<-release
				mu.Lock()
				acceptedByA[o.Ticket] = true
				mu.Unlock()
				return 201, nil
			})
			fa := f.forwarder(t, "a", a, 1000, long)
			stopA := runFw(t, fa)
			within(t, 30*time.Second, "a's three failures, then a slow send", func() bool { return sends.Load() >= 4 })
			stopped := make(chan struct{})
			go func() { stopA(); close(stopped) }()
			time.Sleep(200 * time.Millisecond)
			select {
			case <-stopped:
				t.Fatal("the stop did not wait for the send under way")
			default:
			}
			close(release) // the slow send answers 201: acked by a
			<-stopped
			sa := fa.Stats()
			if sa.Delivered == 0 || sa.HandedBack < 3 {
				t.Fatalf("a delivered %d and handed back %d; want its send under way delivered and its 3 retries handed back", sa.Delivered, sa.HandedBack)
			}

			b := newBackend(func(*Order, int) (int, error) { return 201, nil })
			fb := f.forwarder(t, "b", b, 1000, long)
			start := time.Now()
			runFw(t, fb)
			// ClaimIdle is a minute: only a hand-back lets b have them now.
			within(t, 15*time.Second, "the rest delivered by b", func() bool { return f.depth(t) == 0 })
			t.Logf("b took over %d handed-back orders %v after starting", fb.Stats().TakenOver, time.Since(start).Round(time.Millisecond))
			b.mu.Lock()
			for tk, n := range b.sends {
				if acceptedByA[tk] || n != 1 {
					t.Errorf("%s: sent %d times by b (accepted by a: %v)", tk, n, acceptedByA[tk])
				}
			}
			b.mu.Unlock()
			for _, tk := range tickets {
				st, _ := f.status(t, tk)
				if st.State != Delivered {
					t.Errorf("%s: %+v, want delivered", tk, st)
				}
			}
			if got := fb.Stats().Delivered + sa.Delivered; got != uint64(len(tickets)) {
				t.Errorf("delivered %d (a %d, b %d), want %d: an order was delivered twice or not at all", got, sa.Delivered, fb.Stats().Delivered, len(tickets))
			}
		})
	}
}

// TestForwarderKeepsSlowClaims: a slow but living instance touches its
// entries, so another one does not take them over and send them twice.
func TestForwarderKeepsSlowClaims(t *testing.T) {
	f := newFixture(t, []string{redistest.Start(t).Addr()}, "slow", 10)
	tickets := f.sell(t, 4)
	be := newBackend(func(*Order, int) (int, error) { time.Sleep(900 * time.Millisecond); return 201, nil })
	idle := func(c *StreamConfig) { c.ClaimIdle = 300 * time.Millisecond; c.SendTimeout = 2 * time.Second }
	a := f.forwarder(t, "a", be, 1000, idle)
	runFw(t, a)
	within(t, 10*time.Second, "a has them all", func() bool { return a.Stats().Inflight == 4 })
	b := f.forwarder(t, "b", be, 1000, idle)
	runFw(t, b)
	within(t, 30*time.Second, "all delivered", func() bool { return f.depth(t) == 0 })
	if _, sends := be.count(); sends != len(tickets) {
		t.Errorf("%d sends for %d orders: b took over a living instance's orders", sends, len(tickets))
	}
	if s := b.Stats(); s.TakenOver != 0 {
		t.Errorf("b took over %d entries", s.TakenOver)
	}
}

// gatedPacer holds every Reserve until open is closed, as a shared rate
// far below the load does; asked is closed at the first Reserve.
type gatedPacer struct {
	asked, open chan struct{}
	once        sync.Once
}

func (p *gatedPacer) Reserve(ctx context.Context) (time.Duration, bool, error) {
	p.once.Do(func() { close(p.asked) })
	select {
	case <-p.open:
		return 0, true, nil
	case <-ctx.Done():
		return 0, false, ctx.Err()
	}
}

// TestForwarderChecksAfterRateWait: an order released while it waits for
// its rate slot is dropped, not sent: the held-mark check comes after the
// slot, right before the send (a unit given back there sells again, and
// the backend would see two orders for it).
func TestForwarderChecksAfterRateWait(t *testing.T) {
	f := newFixture(t, []string{redistest.Start(t).Addr()}, "ratewait", 5)
	tickets := f.sell(t, 1)
	be := newBackend(func(*Order, int) (int, error) { return 201, nil })
	pace := &gatedPacer{asked: make(chan struct{}), open: make(chan struct{})}
	fw, err := NewForwarder(StreamConfig{Activities: []string{f.act}, Group: "orders", Consumer: "a", MaxInflight: 4,
		SendTimeout: time.Second, ClaimIdle: 2 * time.Second}, f.r, be, pace)
	if err != nil {
		t.Fatal(err)
	}
	runFw(t, fw)
	select {
	case <-pace.asked:
	case <-time.After(10 * time.Second):
		t.Fatal("the forwarder never asked for a rate slot")
	}
	act, user, seq := splitTicket(t, tickets[0])
	if ok, err := f.r.Release(context.Background(), act, []byte(user), seq); !ok || err != nil {
		t.Fatalf("Release = %v, %v", ok, err)
	}
	close(pace.open)
	within(t, 10*time.Second, "the order is dropped", func() bool { return f.depth(t) == 0 })
	if _, sends := be.count(); sends != 0 {
		t.Fatalf("%d sends of an order released while it waited for its slot", sends)
	}
	if st, _ := f.status(t, tickets[0]); st.State != Failed || st.Reason != ReasonReleased {
		t.Fatalf("status = %+v; want failed, released", st)
	}
	if s := fw.Stats(); s.Dropped != 1 || s.Delivered != 0 {
		t.Fatalf("stats %+v", s)
	}
	if n := f.left(t); n != 5 {
		t.Fatalf("left = %d, want 5", n)
	}
}

// failingTouch is Redis away for the touches only: the entries a live
// forwarder works on go idle, and its own takeover scan finds them.
type failingTouch struct{ *stock.RedisStore }

func (failingTouch) Touch(context.Context, string, int, string, string, []string) ([]string, error) {
	return nil, stock.ErrUnavailable
}

// TestForwarderSkipsOwnIdle: XAUTOCLAIM returns a consumer's own idle
// entries too; one the forwarder is still sending is not started a
// second time.
func TestForwarderSkipsOwnIdle(t *testing.T) {
	f := newFixture(t, []string{redistest.Start(t).Addr()}, "ownidle", 5)
	tickets := f.sell(t, 2)
	be := newBackend(func(*Order, int) (int, error) { time.Sleep(1500 * time.Millisecond); return 201, nil })
	fw := f.forwarderOn(t, failingTouch{f.r}, "a", be, 1000, func(c *StreamConfig) {
		c.ClaimIdle = 300 * time.Millisecond
		c.SendTimeout = 3 * time.Second
	})
	runFw(t, fw)
	within(t, 20*time.Second, "all delivered", func() bool { return f.depth(t) == 0 })
	if orders, sends := be.count(); orders != len(tickets) || sends != len(tickets) {
		t.Fatalf("%d sends of %d orders (%d sold): an order still under way was started again", sends, orders, len(tickets))
	}
	if s := fw.Stats(); s.Delivered != uint64(len(tickets)) || s.TakenOver != 0 {
		t.Fatalf("stats %+v", s)
	}
}
