package gateway_test

import (
	"context"
	"encoding/json"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flashgate/flashgate/conf"
	_ "github.com/flashgate/flashgate/filters" // the real identity and stock filters
	"github.com/flashgate/flashgate/gateway"
	"github.com/flashgate/flashgate/internal/demobackend"
	"github.com/flashgate/flashgate/internal/gatewaytest"
	"github.com/flashgate/flashgate/stock"
)

// This test lives outside package gateway so that it can run the real
// stock filter (filters/stock imports gateway) on the memory store.

const asyncYAML = `
upstreams: [{name: orders, addrs: ["BACKEND"], timeout: 2s, connect_timeout: 200ms}]
activities: [{id: phone-sale, product: phone-x, stock: 3, shards: 1}]
routes:
  - method: POST
    path: /buy/{activity}
    filters: [{identity: {header: X-User-Id, require: true}}, {stock: {}}]
    action: {type: proxy, upstream: orders, rewrite: /orders, mode: async, queue: {rate: 1000, attempts: 2, backoff: 1ms}}
  - method: POST
    path: /bad/{activity}
    filters: [{identity: {header: X-User-Id, require: true}}, {stock: {}}]
    action: {type: proxy, upstream: orders, rewrite: /nowhere, mode: async, queue: {rate: 1000, attempts: 2, backoff: 1ms}}
  - path: /api/orders/{ticket}
    filters: [{identity: {header: X-User-Id, require: true}}]
    action: {type: json, endpoint: order_status}
`

type asyncGateway struct {
	s     *gateway.Server
	yaml  string
	c     *fasthttp.Client
	store stock.Store
	b     *demobackend.Backend
}

func startAsync(t *testing.T) *asyncGateway {
	t.Helper()
	return startAsyncWith(t, asyncYAML, demobackend.Options{})
}

func startAsyncWith(t *testing.T, yamlTemplate string, opts demobackend.Options) *asyncGateway {
	t.Helper()
	b := demobackend.New(opts)
	return startAsyncBehind(t, yamlTemplate, b, b.Handler)
}

// startAsyncBehind is startAsyncWith with the backend's handler given
// (b's, wrapped), for a backend that fails on cue.
func startAsyncBehind(t *testing.T, yamlTemplate string, b *demobackend.Backend, h fasthttp.RequestHandler) *asyncGateway {
	t.Helper()
	bln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	bsrv := &fasthttp.Server{Handler: h}
	go func() { _ = bsrv.Serve(bln) }()
	t.Cleanup(func() { _ = bsrv.Shutdown() })

	yaml := strings.Replace(yamlTemplate, "BACKEND", bln.Addr().String(), 1)
	cfg := parse(t, yaml)
	store := stock.NewMemory()
	s, err := gateway.NewServer(cfg, gateway.Deps{Stock: store, AutoWarm: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() }) // after the Shutdown below (cleanups run last first), which stops the queues
	return &asyncGateway{s: s, yaml: yaml, store: store, b: b, c: gatewaytest.Serve(t, s)}
}

func parse(t *testing.T, yaml string) *conf.Config {
	t.Helper()
	cfg, err := conf.Parse([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Static.Catalogue = "testdata/catalogue.yaml"
	return cfg
}

func (g *asyncGateway) do(t *testing.T, method, path, user string) (int, map[string]any) {
	t.Helper()
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod(method)
	req.SetRequestURI("http://flashgate.test" + path)
	req.Header.Set("Accept", "application/json")
	if user != "" {
		req.Header.Set("X-User-Id", user)
	}
	if method == "POST" {
		req.Header.SetContentType("application/json")
		req.SetBodyString(`{"qty":1}`)
	}
	if err := g.c.DoTimeout(req, resp, 10*time.Second); err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	var m map[string]any
	if err := json.Unmarshal(resp.Body(), &m); err != nil {
		t.Fatalf("%s %s: %d %q is not JSON: %v", method, path, resp.StatusCode(), resp.Body(), err)
	}
	return resp.StatusCode(), m
}

// poll asks for ticket's status until it is no longer queued (bounded).
func (g *asyncGateway) poll(t *testing.T, poll, user string) map[string]any {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		code, m := g.do(t, "GET", poll, user)
		if code != 200 {
			t.Fatalf("poll %s: %d %v", poll, code, m)
		}
		if m["status"] != "queued" {
			return m
		}
	}
	t.Fatalf("order %s still queued after 10 s", poll)
	return nil
}

func (g *asyncGateway) left(t *testing.T) int64 {
	t.Helper()
	n, err := g.store.Left(context.Background(), "phone-sale")
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestAsyncPurchaseQueuedThenDelivered(t *testing.T) {
	g := startAsync(t)
	code, m := g.do(t, "POST", "/buy/phone-sale", "alice")
	ticket, _ := m["ticket"].(string)
	if code != 202 || m["status"] != "queued" || !strings.HasPrefix(ticket, "phone-sale:alice:") || m["poll"] != "/api/orders/"+ticket {
		t.Fatalf("purchase: %d %v, want 202 {ticket phone-sale:alice:<seq>, status queued, poll /api/orders/<ticket>}", code, m)
	}
	got := g.poll(t, "/api/orders/"+ticket, "alice")
	body, _ := got["body"].(map[string]any)
	if got["status"] != "delivered" || got["code"] != 201.0 || body["idempotency_key"] != ticket || body["order_id"] == nil {
		t.Errorf("status: %v, want delivered, code 201, the backend's order with the ticket as its key", got)
	}
	if g.b.Orders() != 1 || g.left(t) != 2 {
		t.Errorf("backend has %d orders, %d units left; want 1 and 2", g.b.Orders(), g.left(t))
	}
	// One per customer still holds for a queued order.
	if code, m := g.do(t, "POST", "/buy/phone-sale", "alice"); code != 409 {
		t.Errorf("second purchase: %d %v, want 409 already_purchased", code, m)
	}
	tests := []struct {
		name, path, user string
		code             int
	}{
		{"another user", "/api/orders/" + ticket, "bob", 404},
		{"unknown ticket", "/api/orders/phone-sale:alice:99", "alice", 404},
		{"malformed ticket", "/api/orders/nonsense", "alice", 404},
		{"anonymous", "/api/orders/" + ticket, "", 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if code, m := g.do(t, "GET", tc.path, tc.user); code != tc.code {
				t.Errorf("%d %v, want %d", code, m, tc.code)
			}
		})
	}
}

func TestAsyncRejectedOrderGivesItsUnitBack(t *testing.T) {
	g := startAsync(t)
	code, m := g.do(t, "POST", "/bad/phone-sale", "carol")
	if code != 202 {
		t.Fatalf("purchase: %d %v, want 202", code, m)
	}
	got := g.poll(t, m["poll"].(string), "carol")
	if got["status"] != "failed" || got["reason"] != "backend_rejected" || got["code"] != 404.0 {
		t.Errorf("status: %v, want failed, backend_rejected, code 404", got)
	}
	if g.left(t) != 3 {
		t.Errorf("%d units left after the dead letter, want all 3 back", g.left(t))
	}
	// The unit and the allowance came back: carol can buy again.
	if code, m := g.do(t, "POST", "/buy/phone-sale", "carol"); code != 202 {
		t.Errorf("purchase after the dead letter: %d %v, want 202", code, m)
	}
}

// A reload keeps the running queue (its orders and the statuses clients
// poll) and refuses to change its settings, which would need a new queue.
func TestAsyncQueueSurvivesReload(t *testing.T) {
	g := startAsync(t)
	_, m := g.do(t, "POST", "/buy/phone-sale", "dave")
	poll := m["poll"].(string)
	if got := g.poll(t, poll, "dave"); got["status"] != "delivered" {
		t.Fatalf("before reload: %v", got)
	}
	if _, err := g.s.Reload(parse(t, g.yaml)); err != nil {
		t.Fatalf("reload with the same queue: %v", err)
	}
	if code, got := g.do(t, "GET", poll, "dave"); code != 200 || got["status"] != "delivered" {
		t.Errorf("after reload: %d %v, want the delivered status still there", code, got)
	}
	_, err := g.s.Reload(parse(t, strings.Replace(g.yaml, "rate: 1000, attempts: 2", "rate: 5, attempts: 2", 1)))
	if err == nil || !strings.Contains(err.Error(), "restart") {
		t.Errorf("reload changing the queue: err = %v, want a refusal that says restart", err)
	}
	if code, m := g.do(t, "POST", "/buy/phone-sale", "erin"); code != 202 {
		t.Errorf("after the refused reload: %d %v, want the old config serving (202)", code, m)
	}
}

// A full queue is the gateway's own limit: the purchase gets 503 busy at
// once and its unit back, and the queued order is still delivered.
func TestAsyncFullQueueIsBusy(t *testing.T) {
	yaml := strings.Replace(asyncYAML, "rate: 1000, attempts: 2, backoff: 1ms}", "rate: 1000, attempts: 2, backoff: 1ms, capacity: 1}", 1)
	g := startAsyncWith(t, yaml, demobackend.Options{Latency: 300 * time.Millisecond})
	code, m := g.do(t, "POST", "/buy/phone-sale", "frank")
	if code != 202 {
		t.Fatalf("first purchase: %d %v, want 202", code, m)
	}
	poll := m["poll"].(string)
	// frank's order is unfinished for at least the backend's 300 ms.
	if code, m := g.do(t, "POST", "/buy/phone-sale", "gina"); code != 503 || m["error"] != "busy" {
		t.Errorf("purchase into a full queue: %d %v, want 503 busy", code, m)
	}
	if got := g.poll(t, poll, "frank"); got["status"] != "delivered" {
		t.Errorf("the queued order: %v, want delivered", got)
	}
	if g.left(t) != 2 {
		t.Errorf("%d units left, want 2: the busy purchase's unit came back", g.left(t))
	}
	if code, m := g.do(t, "POST", "/buy/phone-sale", "gina"); code != 202 {
		t.Errorf("gina again once there is room: %d %v, want 202", code, m)
	}
}

// The queue metrics describe what the queues did and hold: after one
// order is delivered, the route that queued it counts it enqueued and
// delivered, and no queue holds anything.
func TestAsyncQueueMetrics(t *testing.T) {
	g := startAsync(t)
	code, m := g.do(t, "POST", "/buy/phone-sale", "carol")
	ticket, _ := m["ticket"].(string)
	if code != 202 {
		t.Fatalf("purchase: %d %v", code, m)
	}
	if got := g.poll(t, "/api/orders/"+ticket, "carol"); got["status"] != "delivered" {
		t.Fatalf("status: %v", got)
	}
	mfs, err := gateway.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]float64{} // result -> sum over routes
	depths, seen := 0.0, 0
	for _, mf := range mfs {
		for _, mt := range mf.GetMetric() {
			switch mf.GetName() {
			case "flashgate_queue_orders_total":
				for _, l := range mt.GetLabel() {
					if l.GetName() == "result" {
						counts[l.GetValue()] += mt.GetCounter().GetValue()
					}
				}
			case "flashgate_queue_depth":
				depths += mt.GetGauge().GetValue()
				seen++
			}
		}
	}
	if seen != 2 { // the two async routes of asyncYAML
		t.Errorf("flashgate_queue_depth has %d series, want one per async route (2)", seen)
	}
	if counts["enqueued"] != 1 || counts["delivered"] != 1 || counts["dead_lettered"] != 0 || depths != 0 {
		t.Errorf("queue metrics %v, depth %v; want enqueued 1, delivered 1, dead_lettered 0, depth 0", counts, depths)
	}
}

// TestAsyncQueueDrainsAfterItsRouteTurnsSync: a reload that makes the
// async route sync (or drops it) leaves its queued orders in the queue,
// and the queue follows the new config's upstream of the same name: an
// order queued while the backend was unreachable is delivered once the
// reload points "orders" at a live one.
func TestAsyncQueueDrainsAfterItsRouteTurnsSync(t *testing.T) {
	dead := strings.Replace(asyncYAML,
		`upstreams: [{name: orders, addrs: ["BACKEND"], timeout: 2s, connect_timeout: 200ms}]`,
		`upstreams: [{name: orders, addrs: ["127.0.0.1:1"], timeout: 2s, connect_timeout: 200ms}, {name: live, addrs: ["BACKEND"]}]`, 1)
	dead = strings.Replace(dead, "queue: {rate: 1000, attempts: 2, backoff: 1ms}", "queue: {rate: 1000, attempts: 100, backoff: 5ms, backoff_max: 20ms}", 1)
	g := startAsyncWith(t, dead, demobackend.Options{})
	_, m := g.do(t, "POST", "/buy/phone-sale", "dave")
	poll, _ := m["poll"].(string)
	if poll == "" {
		t.Fatalf("no ticket: %v", m)
	}
	live := g.yaml[strings.Index(g.yaml, `{name: live, addrs: ["`)+len(`{name: live, addrs: ["`):]
	live = live[:strings.Index(live, `"`)]
	synced := strings.Replace(asyncYAML, "BACKEND", live, 1)
	synced = strings.Replace(synced, ", mode: async, queue: {rate: 1000, attempts: 2, backoff: 1ms}}", "}", 1)
	if _, err := g.s.Reload(parse(t, synced)); err != nil {
		t.Fatalf("reload to sync: %v", err)
	}
	if got := g.poll(t, poll, "dave"); got["status"] != "delivered" {
		t.Fatalf("queued order after the reload: %v, want delivered through the new upstream", got)
	}
	if code, m := g.do(t, "POST", "/buy/phone-sale", "erin"); code != 201 {
		t.Errorf("the route, now sync: %d %v, want the backend's 201", code, m)
	}
}

// TestAsyncPollLink: the 202 points at the config's own order_status
// route, wherever it is mounted (it said /api/orders/ whatever the
// config), and says nothing when no route answers polls.
func TestAsyncPollLink(t *testing.T) {
	for _, tc := range []struct {
		name, from, to string
		poll           string // "" for no poll field
	}{
		{"default path", "", "", "/api/orders/"},
		{"mounted elsewhere", "path: /api/orders/{ticket}", `path: "/shop/v1/orders/{ticket}/state"`, "/shop/v1/orders/"},
		{"no order_status route", `  - path: /api/orders/{ticket}
    filters: [{identity: {header: X-User-Id, require: true}}]
    action: {type: json, endpoint: order_status}
`, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			yaml := strings.Replace(asyncYAML, tc.from, tc.to, 1)
			if tc.from != "" && yaml == asyncYAML {
				t.Fatal("asyncYAML changed: update the test")
			}
			g := startAsyncWith(t, yaml, demobackend.Options{})
			code, m := g.do(t, "POST", "/buy/phone-sale", "alice")
			ticket, _ := m["ticket"].(string)
			poll, has := m["poll"].(string)
			want := ""
			if tc.poll != "" {
				want = tc.poll + ticket
				if tc.name == "mounted elsewhere" {
					want += "/state"
				}
			}
			if code != 202 || ticket == "" || poll != want || has != (want != "") {
				t.Fatalf("purchase: %d %v, want 202 with poll %q", code, m, want)
			}
			if want != "" {
				if got := g.poll(t, poll, "alice"); got["status"] != "delivered" {
					t.Errorf("poll %s: %v, want delivered", poll, got)
				}
			}
		})
	}
}

// TestAsyncAdmitsWhileBreakerOpen: an async route takes orders while its
// upstream's breaker is open (a backend that is down makes orders wait,
// not buyers turned away), and the queue delivers them once the backend
// is back. It answered 503 upstream_unavailable, with no ticket, once
// failed sends had opened the breaker. A sync route on the same upstream
// shows when the breaker is open: it answers upstream_unavailable.
func TestAsyncAdmitsWhileBreakerOpen(t *testing.T) {
	yaml := strings.Replace(asyncYAML, "connect_timeout: 200ms}", "connect_timeout: 200ms, breaker_failures: 2, breaker_open: 1h}", 1)
	yaml = strings.Replace(yaml, "attempts: 2, backoff: 1ms}", "attempts: 100, backoff: 1ms, backoff_max: 20ms}", 1)
	yaml = strings.Replace(yaml, "  - path: /api/orders/{ticket}", `  - method: POST
    path: /now/{activity}
    filters: [{identity: {header: X-User-Id, require: true}}, {stock: {}}]
    action: {type: proxy, upstream: orders, rewrite: /orders}
  - path: /api/orders/{ticket}`, 1)
	var down atomic.Bool
	down.Store(true)
	b := demobackend.New(demobackend.Options{})
	g := startAsyncBehind(t, yaml, b, func(ctx *fasthttp.RequestCtx) {
		if down.Load() {
			ctx.SetStatusCode(500)
			ctx.SetBodyString(`{"error":"down"}`)
			return
		}
		b.Handler(ctx)
	})
	open := false
	for i := 0; i < 10 && !open; i++ {
		code, m := g.do(t, "POST", "/now/phone-sale", "probe"+itoa(i))
		open = code == 503 && m["error"] == "upstream_unavailable"
	}
	if !open {
		t.Fatal("the sync route never saw the breaker open")
	}
	var polls []string
	for _, user := range []string{"u1", "u2", "u3"} {
		code, m := g.do(t, "POST", "/buy/phone-sale", user)
		if code != 202 {
			t.Fatalf("async purchase with the breaker open: %d %v, want 202", code, m)
		}
		polls = append(polls, m["poll"].(string))
	}
	// Back up; a reload starts a new, closed breaker, and the queue moves
	// to it (rather than waiting out the hour).
	down.Store(false)
	if _, err := g.s.Reload(parse(t, g.yaml)); err != nil {
		t.Fatal(err)
	}
	for i, p := range polls {
		if got := g.poll(t, p, "u"+itoa(i+1)); got["status"] != "delivered" {
			t.Errorf("%s: %v, want delivered", p, got)
		}
	}
	if n := b.Orders(); n != 3 {
		t.Errorf("backend has %d orders, want 3", n)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
