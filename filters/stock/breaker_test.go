package stock_test

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flashgate/flashgate/conf"
	_ "github.com/flashgate/flashgate/filters/identity"
	_ "github.com/flashgate/flashgate/filters/stock"
	"github.com/flashgate/flashgate/gateway"
	"github.com/flashgate/flashgate/internal/breaker"
	"github.com/flashgate/flashgate/internal/gatewaytest"
	"github.com/flashgate/flashgate/internal/redistest"
	store "github.com/flashgate/flashgate/stock"
)

// fakeClock is the injected clock: the breaker's open period passes when
// the test says so.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) add(d time.Duration) { c.ns.Add(int64(d)) }

// sale is a gateway with a Redis stock store on a real redis-server,
// selling activity a1 (100 units) through identity + stock.
type sale struct {
	redis  *redistest.Server
	store  store.Store
	br     *breaker.Breaker
	clk    *fakeClock
	client *fasthttp.Client
	stats  func() store.RedisStats
}

func startSale(t *testing.T) *sale {
	t.Helper()
	rs := redistest.Start(t)
	rc := redistest.Client(t, rs.Addr())
	st, err := store.NewRedis(store.RedisOptions{Client: rc, Prefix: "bt:", Timeout: 100 * time.Millisecond, PendingAge: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	cfg, err := conf.Parse([]byte(`
redis: {addrs: ["` + rs.Addr() + `"], timeout: 100ms, prefix: "bt:", breaker_failures: 3, breaker_open: 2s}
stock: {store: redis}
activities: [{id: a1, stock: 100, shards: 2}]
routes:
  - {method: POST, path: "/buy/{activity}", filters: [{identity: {header: X-User-Id, require: true}}, {stock: {}}], action: {type: json, endpoint: stock_decision}}
`))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Warm(context.Background(), store.Spec{Activity: "a1", Stock: 100, Shards: 2, PerUser: 1}, false); err != nil {
		t.Fatal(err)
	}
	clk := &fakeClock{}
	clk.ns.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	br := gateway.NewRedisBreaker(cfg.Redis, clk.now)
	srv, err := gateway.NewServer(cfg, gateway.Deps{Redis: rc, Stock: st, Now: clk.now, RedisBreaker: br})
	if err != nil {
		t.Fatal(err)
	}
	rstats := st.(interface{ Stats() store.RedisStats })
	return &sale{redis: rs, store: st, br: br, clk: clk, stats: rstats.Stats,
		client: gatewaytest.Serve(t, srv)}
}

func (s *sale) buy(t *testing.T, user string) (int, string) {
	t.Helper()
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod("POST")
	req.SetRequestURI("http://flashgate.test/buy/a1")
	req.Header.Set("X-User-Id", user)
	req.Header.Set("Accept", "application/json")
	if err := s.client.DoTimeout(req, resp, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode(), string(resp.Header.Peek("X-Flashgate-Reason"))
}

// scriptCalls is how many scripts (EVALSHA and EVAL: every stock
// decision) the server has run, read from INFO commandstats through a
// connection of the test's own.
func scriptCalls(t *testing.T, addr string) int {
	t.Helper()
	c := redistest.Client(t, addr)
	info, err := c.Do(context.Background(), c.B().Info().Section("commandstats").Build()).ToString()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(info, "\n") {
		for _, cmd := range []string{"cmdstat_evalsha:calls=", "cmdstat_eval:calls="} {
			if rest, ok := strings.CutPrefix(strings.TrimSpace(line), cmd); ok {
				v, _ := strconv.Atoi(rest[:strings.IndexByte(rest, ',')])
				n += v
			}
		}
	}
	return n
}

// TestRedisBreakerOpenMakesNoRedisCall: while the Redis breaker is open,
// purchases answer 503 busy and the server runs no script at all
// (counted on the real redis-server); once the open period has passed a
// probe purchase reaches Redis, succeeds and closes the breaker.
func TestRedisBreakerOpenMakesNoRedisCall(t *testing.T) {
	s := startSale(t)
	addr := s.redis.Addr()
	before := scriptCalls(t, addr)
	if status, _ := s.buy(t, "u0"); status != 200 {
		t.Fatalf("closed breaker: status %d", status)
	}
	if scriptCalls(t, addr) == before {
		t.Fatal("an admitted purchase ran no script: the count measures nothing")
	}
	for range 3 { // what three timed-out stock decisions report
		tk, _ := s.br.Allow()
		s.br.Done(tk, breaker.Failure)
	}
	if s.br.State() != breaker.Open {
		t.Fatalf("state %v after 3 failures", s.br.State())
	}
	before = scriptCalls(t, addr)
	for i := range 30 {
		if status, reason := s.buy(t, "v"+strconv.Itoa(i)); status != 503 || reason != "busy" {
			t.Fatalf("open breaker: %d %s, want 503 busy", status, reason)
		}
	}
	if after := scriptCalls(t, addr); after != before {
		t.Fatalf("30 purchases behind an open breaker ran %d scripts, want 0", after-before)
	}
	s.clk.add(2 * time.Second)
	if status, _ := s.buy(t, "w1"); status != 200 {
		t.Fatalf("probe: status %d", status)
	}
	if s.br.State() != breaker.Closed {
		t.Fatalf("successful probe left %v", s.br.State())
	}
}

// TestRedisBreakerOpensOnFrozenRedis: with redis-server frozen (SIGSTOP)
// the first breaker_failures purchases each wait out redis.timeout and get
// 503 busy; then the breaker is open, and the rest get 503 busy without
// reaching the stock store (it abandons no more Takes).
func TestRedisBreakerOpensOnFrozenRedis(t *testing.T) {
	s := startSale(t)
	if status, _ := s.buy(t, "u0"); status != 200 {
		t.Fatalf("healthy: status %d", status)
	}
	s.redis.Pause()
	defer s.redis.Resume()
	for i := range 3 {
		if status, reason := s.buy(t, "f"+strconv.Itoa(i)); status != 503 || reason != "busy" {
			t.Fatalf("frozen Redis: %d %s", status, reason)
		}
	}
	if s.br.State() != breaker.Open {
		t.Fatalf("state %v after 3 timed-out decisions", s.br.State())
	}
	abandoned := s.stats().Abandoned
	if abandoned != 3 {
		t.Fatalf("abandoned %d Takes, want 3", abandoned)
	}
	for i := range 20 {
		if status, reason := s.buy(t, "g"+strconv.Itoa(i)); status != 503 || reason != "busy" {
			t.Fatalf("open breaker: %d %s", status, reason)
		}
	}
	if got := s.stats().Abandoned; got != abandoned {
		t.Fatalf("behind the open breaker %d more Takes reached the store and waited", got-abandoned)
	}
	// Redis still frozen when the period ends: the one probe waits out
	// its timeout, fails, and the breaker opens again.
	s.clk.add(2 * time.Second)
	if status, _ := s.buy(t, "p1"); status != 503 || s.br.State() != breaker.Open {
		t.Fatalf("failed probe: status %d, state %v", status, s.br.State())
	}
	s.redis.Resume()
	s.clk.add(2 * time.Second)
	if status, _ := s.buy(t, "p2"); status != 200 || s.br.State() != breaker.Closed {
		t.Fatalf("after Redis came back: status %d, state %v", status, s.br.State())
	}
}
