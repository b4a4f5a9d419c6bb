package gateway_test

import (
	"context"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/valyala/fasthttp"

	"github.com/flashgate/flashgate/gateway"
	"github.com/flashgate/flashgate/internal/gatewaytest"
	"github.com/flashgate/flashgate/internal/redistest"
	"github.com/flashgate/flashgate/stock"
)

// The give-backs of a queued order (README, async mode): a unit given
// back while its order waits (a release by the backend, its pay_within
// deadline) is never followed by that order's delivery, and the poll says
// so at once, on both stores.

const givebackYAML = `
upstreams: [{name: orders, addrs: ["BACKEND"], timeout: 2s, connect_timeout: 200ms, breaker_failures: -1}]
activities: [{id: sale, product: phone-x, stock: 5, shards: 1, pay_within: 1s}]
routes:
  - method: POST
    path: /buy/{activity}
    filters: [{identity: {header: X-User-Id, require: true}}, {stock: {}}]
    action: {type: proxy, upstream: orders, rewrite: /orders, mode: async, queue: {rate: 1000, max_inflight: 1, attempts: 1000, backoff: 10ms, backoff_max: 20ms, claim_idle: 5s}}
  - path: /api/orders/{ticket}
    filters: [{identity: {header: X-User-Id, require: true}}]
    action: {type: json, endpoint: order_status}
`

// gateBackend answers 503 while its gate is shut and 201 once open, and
// counts the sends of each Idempotency-Key.
type gateBackend struct {
	open  atomic.Bool
	mu    sync.Mutex
	sends map[string]int
	made  map[string]bool
}

func startGate(t *testing.T) (*gateBackend, string) {
	t.Helper()
	b := &gateBackend{sends: map[string]int{}, made: map[string]bool{}}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		key := string(ctx.Request.Header.Peek("Idempotency-Key"))
		b.mu.Lock()
		b.sends[key]++
		open := b.open.Load()
		if open {
			b.made[key] = true
		}
		b.mu.Unlock()
		if !open {
			ctx.SetStatusCode(503)
			return
		}
		ctx.SetStatusCode(201)
		ctx.SetContentType("application/json")
		ctx.SetBodyString(`{"order_id":"o-` + key + `"}`)
	}}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return b, ln.Addr().String()
}

func (b *gateBackend) count(key string) (sends int, made bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sends[key], b.made[key]
}

// givebackClock is the stores' injected clock: the tests move it past
// the deadlines instead of sleeping.
type givebackClock struct{ ns atomic.Int64 }

func (c *givebackClock) now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *givebackClock) add(d time.Duration) { c.ns.Add(int64(d)) }

// startGiveback serves givebackYAML on the memory store or, with addr,
// on a Redis store (sync loop, and so the sweeper, every 50 ms), both on
// clk.
func startGiveback(t *testing.T, addr, backend string, clk *givebackClock) *asyncGateway {
	t.Helper()
	return startGivebackYAML(t, addr, givebackYAML, backend, clk)
}

// startGivebackYAML is startGiveback on another config of the same shape.
func startGivebackYAML(t *testing.T, addr, yaml, backend string, clk *givebackClock) *asyncGateway {
	t.Helper()
	yaml = strings.Replace(yaml, "BACKEND", backend, 1)
	deps := gateway.Deps{AutoWarm: true}
	if addr == "" {
		deps.Stock = stock.NewMemoryClock(clk.now)
	} else {
		yaml = "redis: {addrs: [\"" + addr + "\"]}\nstock: {store: redis}\n" + yaml
		c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: true, Dialer: net.Dialer{Timeout: time.Second}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		st, err := stock.NewRedis(stock.RedisOptions{Client: c, Prefix: "fg:", Timeout: 2 * time.Second, Now: clk.now, SyncInterval: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		deps.Stock, deps.Redis = st, c
	}
	t.Cleanup(func() { _ = deps.Stock.Close() }) // after the server's shutdown (cleanups run last first)
	s, err := gateway.NewServer(parse(t, yaml), deps)
	if err != nil {
		t.Fatal(err)
	}
	return &asyncGateway{s: s, yaml: yaml, store: deps.Stock, c: gatewaytest.Serve(t, s)}
}

// buy purchases for user and returns the ticket.
func (g *asyncGateway) buy(t *testing.T, user string) string {
	t.Helper()
	code, m := g.do(t, "POST", "/buy/sale", user)
	ticket, _ := m["ticket"].(string)
	if code != 202 || ticket == "" {
		t.Fatalf("purchase by %s: %d %v, want 202 with a ticket", user, code, m)
	}
	return ticket
}

// status polls ticket once.
func (g *asyncGateway) status(t *testing.T, ticket, user string) map[string]any {
	t.Helper()
	code, m := g.do(t, "GET", "/api/orders/"+ticket, user)
	if code != 200 {
		t.Fatalf("poll %s: %d %v", ticket, code, m)
	}
	return m
}

func seqOf(t *testing.T, ticket string) int64 {
	t.Helper()
	d, ok := parseTicketSeq(ticket)
	if !ok {
		t.Fatalf("ticket %q", ticket)
	}
	return d
}

func parseTicketSeq(ticket string) (int64, bool) {
	i := strings.LastIndexByte(ticket, ':')
	var n int64
	for _, c := range ticket[i+1:] {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, i > 0 && n > 0
}

// within polls cond for at most 10 s.
func within(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10 s", what)
		}
	}
}

// TestAsyncGiveBackWhileQueued: bob's order occupies the one delivery
// slot (the backend answers 503, so it is retried); alice's waits behind
// it (the Redis forwarder holds the slot through bob's retries; the
// memory queue takes turns, so hers may be tried too), then her unit is
// given back, by the backend's release or by her pay_within deadline. Her poll says failed at once; once the backend
// recovers, bob's order (paid, so kept) is delivered, hers never is, eve's
// after hers shows the queue has passed it, and the unit came back once.
func TestAsyncGiveBackWhileQueued(t *testing.T) {
	stores := map[string]string{"memory": "", "redis": redistest.Start(t).Addr()}
	for _, how := range []string{"released", "unpaid"} {
		for name, addr := range stores {
			t.Run(how+"/"+name, func(t *testing.T) {
				if addr != "" {
					flushRedis(t, addr)
				}
				clk := &givebackClock{}
				clk.ns.Store(time.Date(2026, 11, 11, 20, 0, 0, 0, time.UTC).UnixNano())
				b, backend := startGate(t)
				g := startGiveback(t, addr, backend, clk)
				ctx := context.Background()

				bob := g.buy(t, "bob")
				within(t, "bob's order sent", func() bool { n, _ := b.count(bob); return n > 0 })
				if r, err := g.store.Paid(ctx, "sale", []byte("bob"), seqOf(t, bob)); err != nil || r != stock.PaidNow {
					t.Fatalf("Paid(bob) = %v, %v", r, err)
				}
				alice := g.buy(t, "alice")
				if st := g.status(t, alice, "alice"); st["status"] != "queued" {
					t.Fatalf("alice's poll %v, want queued", st)
				}
				switch how {
				case "released":
					if ok, err := g.store.Release(ctx, "sale", []byte("alice"), seqOf(t, alice)); !ok || err != nil {
						t.Fatalf("Release(alice) = %v, %v", ok, err)
					}
					if st := g.status(t, alice, "alice"); st["status"] != "failed" || st["reason"] != "released" {
						t.Fatalf("alice's poll right after the release: %v, want failed released", st)
					}
				case "unpaid":
					clk.add(1500 * time.Millisecond)
					within(t, "alice's unit released unpaid", func() bool {
						st := g.status(t, alice, "alice")
						return st["status"] == "failed" && st["reason"] == "unpaid"
					})
					if r, err := g.store.Paid(ctx, "sale", []byte("alice"), seqOf(t, alice)); err != nil || r != stock.PaidTooLate {
						t.Fatalf("Paid(alice) after the deadline = %v, %v; want PaidTooLate", r, err)
					}
				}
				if left, err := g.store.Left(ctx, "sale"); err != nil || left != 4 {
					t.Fatalf("left %d (%v), want 4: alice's unit back, bob's sold", left, err)
				}
				eve := g.buy(t, "eve")
				if addr == "" {
					// The memory queue takes turns between retried orders, so
					// alice's may have been sent (and refused) before her
					// give-back. One send at a time: once eve's (bought after
					// the give-back) is out, no send of alice's is under way.
					within(t, "eve's order sent", func() bool { n, _ := b.count(eve); return n > 0 })
				}
				before, _ := b.count(alice)
				b.open.Store(true)
				within(t, "bob's and eve's orders delivered", func() bool {
					return g.status(t, bob, "bob")["status"] == "delivered" && g.status(t, eve, "eve")["status"] == "delivered"
				})
				if n, made := b.count(alice); made || n != before {
					t.Errorf("the backend saw alice's order %d times (%d before the give-back), made %v: want no send after it, never made", n, before, made)
				}
				if st := g.status(t, alice, "alice"); st["status"] != "failed" || st["reason"] != how {
					t.Errorf("alice's poll after the queue passed her order: %v, want failed %s", st, how)
				}
				if left, err := g.store.Left(ctx, "sale"); err != nil || left != 3 {
					t.Errorf("left %d (%v), want 3: alice's unit back once, bob's and eve's sold", left, err)
				}
				if how == "unpaid" { // bob paid: his unit stayed sold past his deadline
					if r, _ := g.store.Paid(ctx, "sale", []byte("bob"), seqOf(t, bob)); r != stock.PaidAlready {
						t.Errorf("Paid(bob) again = %v, want PaidAlready", r)
					}
				}
			})
		}
	}
}

// TestAsyncDeliveredThenUnpaid: an order delivered and never paid is the
// sync case: its unit comes back at its deadline, the backend's late
// payment is refused (released_unpaid), and the poll keeps "delivered"
// (what the backend answered). A delivered and paid one stays sold.
func TestAsyncDeliveredThenUnpaid(t *testing.T) {
	stores := map[string]string{"memory": "", "redis": redistest.Start(t).Addr()}
	for name, addr := range stores {
		t.Run(name, func(t *testing.T) {
			clk := &givebackClock{}
			clk.ns.Store(time.Date(2026, 11, 11, 20, 0, 0, 0, time.UTC).UnixNano())
			b, backend := startGate(t)
			b.open.Store(true)
			g := startGiveback(t, addr, backend, clk)
			ctx := context.Background()
			carol, dave := g.buy(t, "carol"), g.buy(t, "dave")
			within(t, "both delivered", func() bool {
				return g.status(t, carol, "carol")["status"] == "delivered" && g.status(t, dave, "dave")["status"] == "delivered"
			})
			if r, err := g.store.Paid(ctx, "sale", []byte("carol"), seqOf(t, carol)); err != nil || r != stock.PaidNow {
				t.Fatalf("Paid(carol) = %v, %v", r, err)
			}
			clk.add(1500 * time.Millisecond)
			within(t, "dave's unit back", func() bool { n, _ := g.store.Left(ctx, "sale"); return n == 4 })
			if r, err := g.store.Paid(ctx, "sale", []byte("dave"), seqOf(t, dave)); err != nil || r != stock.PaidTooLate {
				t.Errorf("Paid(dave) after the deadline = %v, %v; want PaidTooLate", r, err)
			}
			if st := g.status(t, dave, "dave"); st["status"] != "delivered" {
				t.Errorf("dave's poll %v, want delivered (the backend's answer stands)", st)
			}
			if n, made := b.count(carol); n != 1 || !made {
				t.Errorf("carol's order sent %d times (made %v), want once", n, made)
			}
		})
	}
}

// flushRedis empties the Redis at addr, so that each subtest sells
// afresh.
func flushRedis(t *testing.T, addr string) {
	t.Helper()
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Do(context.Background(), c.B().Flushall().Build()).Error(); err != nil {
		t.Fatal(err)
	}
}

// unconfirmedOrder serves givebackYAML with one attempt against a backend
// that never answers in time, on the memory store or (addr) Redis, and
// returns the gateway with alice's order dead-lettered unconfirmed.
func unconfirmedOrder(t *testing.T, addr string) (*asyncGateway, string) {
	t.Helper()
	if addr != "" {
		flushRedis(t, addr)
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var sends atomic.Int32
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		sends.Add(1)
		time.Sleep(600 * time.Millisecond) // past the upstream's timeout
		ctx.SetStatusCode(201)
	}}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown() })

	yaml := strings.NewReplacer(", pay_within: 1s", "", "timeout: 2s", "timeout: 200ms",
		"attempts: 1000", "attempts: 1").Replace(givebackYAML)
	clk := &givebackClock{}
	clk.ns.Store(time.Date(2026, 11, 11, 20, 0, 0, 0, time.UTC).UnixNano())
	g := startGivebackYAML(t, addr, yaml, ln.Addr().String(), clk)

	alice := g.buy(t, "alice")
	within(t, "alice's order dead-lettered", func() bool { return g.status(t, alice, "alice")["status"] == "failed" })
	if st := g.status(t, alice, "alice"); st["reason"] != "unconfirmed" || sends.Load() != 1 {
		t.Fatalf("alice's poll %v after %d sends, want failed unconfirmed after 1", st, sends.Load())
	}
	if left, err := g.store.Left(context.Background(), "sale"); err != nil || left != 4 {
		t.Fatalf("left %d (%v), want 4: an unconfirmed order's unit stays sold", left, err)
	}
	return g, alice
}

// TestAsyncUnconfirmedThenReleased: an order whose only send got no
// answer is dead-lettered unconfirmed with its unit still sold, and its
// poll says so; once the shop, having found no such order, releases the
// unit, the poll says released (so a client may buy again), on both
// stores.
func TestAsyncUnconfirmedThenReleased(t *testing.T) {
	stores := map[string]string{"memory": "", "redis": redistest.Start(t).Addr()}
	for name, addr := range stores {
		t.Run(name, func(t *testing.T) {
			g, alice := unconfirmedOrder(t, addr)
			ctx := context.Background()
			if ok, err := g.store.Release(ctx, "sale", []byte("alice"), seqOf(t, alice)); !ok || err != nil {
				t.Fatalf("Release(alice) = %v, %v", ok, err)
			}
			if st := g.status(t, alice, "alice"); st["status"] != "failed" || st["reason"] != "released" {
				t.Errorf("alice's poll after the release: %v, want failed released", st)
			}
			if left, err := g.store.Left(ctx, "sale"); err != nil || left != 5 {
				t.Errorf("left %d (%v), want 5: the unit back once", left, err)
			}
			if code, m := g.do(t, "GET", "/api/orders/"+alice, "mallory"); code != 404 {
				t.Errorf("another user's poll: %d %v, want 404", code, m)
			}
		})
	}
}

// TestAsyncUnconfirmedSurvivesReset: a forced warm resets the sale but
// says nothing of whether the backend has an unconfirmed order, so on the
// memory store its poll stays unconfirmed (on Redis a ticket of an older
// load is 404).
func TestAsyncUnconfirmedSurvivesReset(t *testing.T) {
	g, alice := unconfirmedOrder(t, "")
	if err := g.store.Warm(context.Background(), stock.Spec{Activity: "sale", Stock: 5, Shards: 1, PerUser: 1}, true); err != nil {
		t.Fatal(err)
	}
	if st := g.status(t, alice, "alice"); st["status"] != "failed" || st["reason"] != "unconfirmed" {
		t.Errorf("alice's poll after a forced warm: %v, want failed unconfirmed", st)
	}
}

// TestAsyncReleasedSurvivesReset: an unconfirmed order released (and so
// answered released) keeps answering released after a forced warm on
// the memory store, instead of going back to unconfirmed.
func TestAsyncReleasedSurvivesReset(t *testing.T) {
	g, alice := unconfirmedOrder(t, "")
	ctx := context.Background()
	if ok, err := g.store.Release(ctx, "sale", []byte("alice"), seqOf(t, alice)); !ok || err != nil {
		t.Fatalf("Release(alice) = %v, %v", ok, err)
	}
	if st := g.status(t, alice, "alice"); st["reason"] != "released" {
		t.Fatalf("alice's poll after the release: %v, want failed released", st)
	}
	if err := g.store.Warm(ctx, stock.Spec{Activity: "sale", Stock: 5, Shards: 1, PerUser: 1}, true); err != nil {
		t.Fatal(err)
	}
	if st := g.status(t, alice, "alice"); st["status"] != "failed" || st["reason"] != "released" {
		t.Errorf("alice's poll after the release and a forced warm: %v, want failed released", st)
	}
}
