package gateway_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/valyala/fasthttp"

	"github.com/flashgate/flashgate/gateway"
	"github.com/flashgate/flashgate/internal/demobackend"
	"github.com/flashgate/flashgate/internal/gatewaytest"
	"github.com/flashgate/flashgate/internal/redistest"
	"github.com/flashgate/flashgate/stock"
)

const asyncRedisYAML = `
redis: {addrs: ["REDIS"]}
stock: {store: redis}
upstreams: [{name: orders, addrs: ["BACKEND"], timeout: 2s, connect_timeout: 200ms}]
activities:
  - {id: phone-sale, product: phone-x, stock: 3, shards: 2}
  - {id: bad-sale, product: phone-x, stock: 3, shards: 2}
  - {id: sync-sale, product: phone-x, stock: 3, shards: 2}
routes:
  - method: POST
    path: /buy/{activity}
    activities: [phone-sale]
    filters: [{identity: {header: X-User-Id, require: true}}, {stock: {}}]
    action: {type: proxy, upstream: orders, rewrite: /orders, mode: async, queue: {rate: 1000, attempts: 2, backoff: 1ms, claim_idle: 5s}}
  - method: POST
    path: /bad/{activity}
    activities: [bad-sale]
    filters: [{identity: {header: X-User-Id, require: true}}, {stock: {}}]
    action: {type: proxy, upstream: orders, rewrite: /nowhere, mode: async, queue: {rate: 1000, attempts: 2, backoff: 1ms, claim_idle: 5s}}
  - method: POST
    path: /now/{activity}
    activities: [sync-sale]
    filters: [{identity: {header: X-User-Id, require: true}}, {stock: {}}]
    action: {type: proxy, upstream: orders, rewrite: /orders}
  - path: /api/orders/{ticket}
    filters: [{identity: {header: X-User-Id, require: true}}]
    action: {type: json, endpoint: order_status}
`

// startAsyncRedis serves asyncRedisYAML on a Redis store, with /buy
// selling phone-sale and /bad selling bad-sale (one async route per
// activity on Redis). A second call with the same addrs is a second
// gateway instance on the same Redis.
func startAsyncRedis(t *testing.T, addrs []string, b *demobackend.Backend, backend string) *asyncGateway {
	t.Helper()
	yaml := strings.Replace(asyncRedisYAML, "BACKEND", backend, 1)
	yaml = strings.Replace(yaml, `"REDIS"`, `"`+strings.Join(addrs, `", "`)+`"`, 1)
	cfg := parse(t, yaml)
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: addrs, DisableCache: true, Dialer: net.Dialer{Timeout: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	st, err := stock.NewRedis(stock.RedisOptions{Client: c, Prefix: cfg.Redis.Prefix, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, a := range cfg.Activities {
		if err := st.Warm(ctx, stock.Spec{Activity: a.ID, Stock: a.Stock, Shards: a.Shards, PerUser: 1}, false); err != nil {
			t.Fatal(err)
		}
	}
	s, err := gateway.NewServer(cfg, gateway.Deps{Stock: st, Redis: c})
	if err != nil {
		t.Fatal(err)
	}
	return &asyncGateway{s: s, yaml: yaml, store: st, b: b, c: gatewaytest.Serve(t, s)}
}

func startBackend(t *testing.T) (*demobackend.Backend, string) {
	t.Helper()
	b := demobackend.New(demobackend.Options{})
	bln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	bsrv := &fasthttp.Server{Handler: b.Handler}
	go func() { _ = bsrv.Serve(bln) }()
	t.Cleanup(func() { _ = bsrv.Shutdown() })
	return b, bln.Addr().String()
}

// TestAsyncOnRedis: the same client contract as the memory store's async
// mode, with the order queued in Redis by the stock script, delivered by
// either instance and polled on either.
func TestAsyncOnRedis(t *testing.T) {
	for name, addrs := range map[string][]string{
		"standalone": {redistest.Start(t).Addr()},
		"cluster":    redistest.StartCluster(t, 3).Addrs(),
	} {
		t.Run(name, func(t *testing.T) {
			b, backend := startBackend(t)
			g1 := startAsyncRedis(t, addrs, b, backend)
			g2 := startAsyncRedis(t, addrs, b, backend)
			code, m := g1.do(t, "POST", "/buy/phone-sale", "alice")
			ticket, _ := m["ticket"].(string)
			if code != 202 || m["status"] != "queued" || !strings.HasPrefix(ticket, "phone-sale:alice:") || m["poll"] != "/api/orders/"+ticket {
				t.Fatalf("purchase: %d %v, want 202 {ticket phone-sale:alice:<seq>, status queued, poll}", code, m)
			}
			got := g2.poll(t, "/api/orders/"+ticket, "alice") // the other instance answers
			body, _ := got["body"].(map[string]any)
			if got["status"] != "delivered" || got["code"] != 201.0 || body["idempotency_key"] != ticket {
				t.Errorf("status: %v, want delivered, 201, the ticket as the key", got)
			}
			if g1.b.Orders() != 1 {
				t.Errorf("backend has %d orders, want 1", g1.b.Orders())
			}
			if code, m := g2.do(t, "POST", "/buy/phone-sale", "alice"); code != 409 {
				t.Errorf("second purchase: %d %v, want 409", code, m)
			}
			for _, tc := range []struct {
				name, path, user string
				code             int
			}{
				{"another user", "/api/orders/" + ticket, "bob", 404},
				{"unknown ticket", "/api/orders/phone-sale:alice:99", "alice", 404},
				{"malformed ticket", "/api/orders/nonsense", "alice", 404},
				{"anonymous", "/api/orders/" + ticket, "", 401},
			} {
				if code, m := g1.do(t, "GET", tc.path, tc.user); code != tc.code {
					t.Errorf("%s: %d %v, want %d", tc.name, code, m, tc.code)
				}
			}

			// A sync purchase has no ticket: its key polls 404, as on the
			// memory store (it polled "queued" for ever).
			code, m = g1.do(t, "POST", "/now/sync-sale", "dave")
			key, _ := m["idempotency_key"].(string)
			if code != 201 || !strings.HasPrefix(key, "sync-sale:dave:") {
				t.Fatalf("sync purchase: %d %v", code, m)
			}
			if code, m := g2.do(t, "GET", "/api/orders/"+key, "dave"); code != 404 {
				t.Errorf("poll of a sync purchase's key: %d %v, want 404", code, m)
			}

			// A rejected order is dead-lettered and its unit given back.
			code, m = g2.do(t, "POST", "/bad/bad-sale", "carol")
			if code != 202 {
				t.Fatalf("purchase: %d %v", code, m)
			}
			got = g1.poll(t, m["poll"].(string), "carol")
			if got["status"] != "failed" || got["reason"] != "backend_rejected" {
				t.Errorf("status: %v, want failed backend_rejected", got)
			}
			// The status is recorded first, then the unit goes back (on the
			// background give-back queue of a remote store): wait, bounded.
			var n int64
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
				if n, _ = g1.store.Left(context.Background(), "bad-sale"); n == 3 {
					break
				}
			}
			if n != 3 {
				t.Errorf("bad-sale left %d, want 3 (the dead letter's unit back)", n)
			}
			if code, _ := g1.do(t, "POST", "/bad/bad-sale", "carol"); code != 202 {
				t.Errorf("buying again after the dead letter: %d, want 202", code)
			}
		})
	}
}

// TestAsyncOnRedisReload: a reload keeps the route's one forwarder (no
// second consumer, no order sent twice) and refuses to change its
// settings.
func TestAsyncOnRedisReload(t *testing.T) {
	b, backend := startBackend(t)
	g := startAsyncRedis(t, []string{redistest.Start(t).Addr()}, b, backend)
	for range 3 {
		if _, err := g.s.Reload(parse(t, g.yaml)); err != nil {
			t.Fatalf("reload with the same queue: %v", err)
		}
	}
	for _, u := range []string{"ann", "ben"} {
		code, m := g.do(t, "POST", "/buy/phone-sale", u)
		if code != 202 {
			t.Fatalf("purchase: %d %v", code, m)
		}
		if got := g.poll(t, m["poll"].(string), u); got["status"] != "delivered" {
			t.Fatalf("status: %v", got)
		}
	}
	time.Sleep(200 * time.Millisecond) // a duplicate forwarder would have sent by now
	if b.Orders() != 2 || b.Duplicates() != 0 {
		t.Errorf("backend has %d orders, %d duplicates; want 2 and 0", b.Orders(), b.Duplicates())
	}
	_, err := g.s.Reload(parse(t, strings.Replace(g.yaml, "rate: 1000, attempts: 2", "rate: 5, attempts: 2", 1)))
	if err == nil || !strings.Contains(err.Error(), "restart") {
		t.Errorf("reload changing the queue: err = %v, want a refusal that says restart", err)
	}
}

// TestAsyncOnRedisStockLast: a filter after stock could refuse a request
// whose order the stock script already queued; the build refuses it.
func TestAsyncOnRedisStockLast(t *testing.T) {
	addr := redistest.Start(t).Addr()
	yaml := strings.Replace(asyncRedisYAML, "REDIS", addr, 1)
	yaml = strings.Replace(yaml, "BACKEND", "127.0.0.1:9", 1)
	yaml = strings.Replace(yaml, "{stock: {}}]\n    action: {type: proxy, upstream: orders, rewrite: /orders",
		"{stock: {}}, {identity: {header: X-User-Id, require: true}}]\n    action: {type: proxy, upstream: orders, rewrite: /orders", 1)
	cfg := parse(t, yaml)
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	st, err := stock.NewRedis(stock.RedisOptions{Client: c, Prefix: cfg.Redis.Prefix})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	_, err = gateway.NewServer(cfg, gateway.Deps{Stock: st, Redis: c})
	if err == nil || !strings.Contains(err.Error(), "stock must be the chain's last filter") {
		t.Fatalf("NewServer = %v, want the stock-last refusal", err)
	}
}

// TestReloadAppliesPayWithinOnRedis: on the Redis store the sale keeps
// pay_within in its meta key; a reload that changes it applies it there,
// in place, and leaves an activity not warmed alone.
func TestReloadAppliesPayWithinOnRedis(t *testing.T) {
	addr := redistest.Start(t).Addr()
	yaml := `
redis: {addrs: ["` + addr + `"], prefix: "pw:"}
stock: {store: redis}
activities:
  - {id: phone-sale, product: phone-x, stock: 3, shards: 1, pay_within: 3s}
  - {id: later, product: phone-x, stock: 3, shards: 1, pay_within: 3s}
routes:
  - {path: "/s/{activity}", action: {type: json, endpoint: activity_status}}
`
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	st, err := stock.NewRedis(stock.RedisOptions{Client: c, Prefix: "pw:"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	ctx := context.Background()
	if err := st.Warm(ctx, stock.Spec{Activity: "phone-sale", Stock: 3, Shards: 1, PerUser: 1, PayWithin: 3 * time.Second}, false); err != nil {
		t.Fatal(err)
	}
	s, err := gateway.NewServer(parse(t, yaml), gateway.Deps{Stock: st, Redis: c})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	if _, err := s.Reload(parse(t, strings.ReplaceAll(yaml, "pay_within: 3s", "pay_within: 1m"))); err != nil {
		t.Fatal(err)
	}
	ps := st.(stock.PayWithinSetter)
	if changed, err := ps.SetPayWithin(ctx, "phone-sale", time.Minute); err != nil || changed {
		t.Errorf("after the reload, setting 1m again changed = %v (%v), want the reload to have applied it", changed, err)
	}
	if _, err := st.Counts(ctx, "later"); !errors.Is(err, stock.ErrNotLoaded) {
		t.Errorf("the activity never warmed: Counts = %v, want still not loaded", err)
	}
}
