package gateway

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/internal/demobackend"
	"github.com/flashgate/flashgate/stock"
)

func bgCtx() context.Context { return context.Background() }

const baseYAML = `
activities:
  - {id: phone-sale, product: phone-x, stock: 3, shards: 2}
routes:
  - path: /p/{product}
    action: {type: static, page: "{product}"}
  - path: /api/activities/{activity}/status
    action: {type: json, endpoint: activity_status}
  - path: /pass/{activity}
    filters: [{test_verdict: {do: pass}}, {test_verdict: {do: pass}}]
    action: {type: json, endpoint: activity_status}
  - path: /reject
    filters: [{test_verdict: {do: pass}}, {test_verdict: {do: reject}}]
    action: {type: static, page: mug}
  - path: /deny
    filters: [{test_verdict: {do: error}}]
    action: {type: static, page: mug}
  - path: /allow
    filters: [{test_verdict: {do: error, on_error: allow}}]
    action: {type: static, page: mug}
`

func TestStaticPage(t *testing.T) {
	ts := newTestServer(t, baseYAML, Deps{})
	resp := ts.do(t, "GET", "/p/phone-x")
	if resp.StatusCode() != 200 || !bytes.Contains(resp.Body(), []byte("Phone X")) {
		t.Fatalf("status %d body %q", resp.StatusCode(), resp.Body())
	}
	etag := string(resp.Header.Peek("ETag"))
	if etag == "" || etag[0] != '"' {
		t.Fatalf("no strong ETag: %q", etag)
	}
	tests := []struct {
		name     string
		method   string
		headers  []string
		status   int
		encoding string
		body     bool
	}{
		{"if-none-match", "GET", []string{"If-None-Match", etag}, 304, "", false},
		{"other etag", "GET", []string{"If-None-Match", `"nope"`}, 200, "", true},
		{"gzip", "GET", []string{"Accept-Encoding", "gzip, deflate"}, 200, "gzip", true},
		{"gzip refused", "GET", []string{"Accept-Encoding", "gzip;q=0"}, 200, "", true},
		{"head", "HEAD", nil, 200, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := ts.do(t, tc.method, "/p/phone-x", tc.headers...)
			if r.StatusCode() != tc.status {
				t.Fatalf("status %d, want %d", r.StatusCode(), tc.status)
			}
			if got := string(r.Header.Peek("Content-Encoding")); got != tc.encoding {
				t.Errorf("Content-Encoding %q, want %q", got, tc.encoding)
			}
			if (len(r.Body()) > 0) != tc.body {
				t.Errorf("body length %d, want body=%v", len(r.Body()), tc.body)
			}
			want := etag
			if tc.encoding == "gzip" {
				// Another representation, another strong validator.
				want = strings.TrimSuffix(etag, `"`) + `-gz"`
			}
			if string(r.Header.Peek("ETag")) != want {
				t.Errorf("ETag %q, want %q", r.Header.Peek("ETag"), want)
			}
		})
	}
	if r := ts.do(t, "GET", "/p/nope"); r.StatusCode() != 404 || string(r.Header.Peek("X-Flashgate-Reason")) != "not_found" {
		t.Errorf("unknown product: %d %q", r.StatusCode(), r.Header.Peek("X-Flashgate-Reason"))
	}
	if len(resp.Header.Peek("Server")) != 0 {
		t.Errorf("server name leaked: %q", resp.Header.Peek("Server"))
	}
}

func TestChainVerdicts(t *testing.T) {
	ts := newTestServer(t, baseYAML, Deps{})
	tests := []struct {
		name, path, accept string
		status             int
		reason, ctype      string
		retryAfter         string
	}{
		{"pass", "/pass/phone-sale", "", 200, "", "application/json", ""},
		{"reject html", "/reject", "text/html", 418, "teapot", "text/html; charset=utf-8", ""},
		{"reject json", "/reject", "application/json", 418, "teapot", "application/json", ""},
		{"error fails closed", "/deny", "application/json", 503, "busy", "application/json", "1"},
		{"error allowed", "/allow", "", 200, "", "text/html; charset=utf-8", ""},
		{"no route", "/nowhere", "application/json", 404, "not_found", "application/json", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := ts.do(t, "GET", tc.path, "Accept", tc.accept)
			if r.StatusCode() != tc.status {
				t.Fatalf("status %d, want %d: %s", r.StatusCode(), tc.status, r.Body())
			}
			if got := string(r.Header.Peek("X-Flashgate-Reason")); got != tc.reason {
				t.Errorf("reason %q, want %q", got, tc.reason)
			}
			if got := string(r.Header.ContentType()); got != tc.ctype {
				t.Errorf("content type %q, want %q", got, tc.ctype)
			}
			if got := string(r.Header.Peek("Retry-After")); got != tc.retryAfter {
				t.Errorf("Retry-After %q, want %q", got, tc.retryAfter)
			}
			if tc.ctype == "application/json" && tc.reason != "" && !bytes.Contains(r.Body(), []byte(`"error":"`+tc.reason+`"`)) {
				t.Errorf("JSON body lacks reason: %s", r.Body())
			}
		})
	}
}

func TestActivityStatus(t *testing.T) {
	ts := newTestServer(t, baseYAML, Deps{})
	r := ts.do(t, "GET", "/api/activities/phone-sale/status")
	for _, want := range []string{`"activity":"phone-sale"`, `"phase":"open"`, `"stock_left":3`, `"sold_out":false`} {
		if !bytes.Contains(r.Body(), []byte(want)) {
			t.Errorf("status body %s lacks %s", r.Body(), want)
		}
	}
}

func TestCheckErrors(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown filter", `routes: [{path: /x, filters: [{nope: {}}], action: {type: static, page: mug}}]`,
			`routes[0].filters[0]: unknown filter type "nope"`},
		{"bad field", `routes: [{path: /x, filters: [{test_verdict: {do: pass, rate: -1}}], action: {type: static, page: mug}}]`,
			`routes[0].filters[0].test_verdict.rate: must be > 0, got -1`},
		{"unknown field", `routes: [{path: /x, filters: [{test_verdict: {do: pass, speed: 1}}], action: {type: static, page: mug}}]`,
			`routes[0].filters[0].test_verdict: unknown field(s): speed`},
		{"wrong type", `routes: [{path: /x, filters: [{test_verdict: {do: pass, rate: fast}}], action: {type: static, page: mug}}]`,
			`routes[0].filters[0].test_verdict.rate: wrong type: expected a whole number, got a string`},
		{"bad on_error", `routes: [{path: /x, filters: [{test_verdict: {do: pass, on_error: maybe}}], action: {type: static, page: mug}}]`,
			`routes[0].filters[0].test_verdict.on_error: must be deny or allow, got maybe`},
		{"unknown endpoint", `routes: [{path: /x, action: {type: json, endpoint: nope}}]`,
			`routes[0].action.endpoint: unknown endpoint "nope"`},
		{"unreadable template dir", `{static: {templates: /nonexistent/flashgate}, routes: [{path: /x, action: {type: static, page: mug}}]}`, `static.templates`},
		{"route page not in the catalogue", `routes: [{path: /x, action: {type: static, page: nope}}]`,
			`routes[0].action.page: page "nope" is not in the catalogue (static.catalogue)`},
		{"activity product not in the catalogue", "activities: [{id: a1, product: ghost, stock: 1}]\nroutes: [{path: \"/p/{product}\", action: {type: static, page: \"{product}\"}}]",
			`activities[0].product: "ghost" is not in the catalogue (static.catalogue): its product page would be a 404`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Sections are refused by the load stage, pages by the
			// build's check; either way the error names the path.
			cfg, err := conf.Parse([]byte(tc.yaml))
			if err == nil {
				cfg.Static.Catalogue = "testdata/catalogue.yaml"
				err = Check(cfg)
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

// startBackend runs the demo order backend on a loopback port.
func startBackend(t testing.TB, opts demobackend.Options) (*demobackend.Backend, string, *headerLog) {
	t.Helper()
	b := demobackend.New(opts)
	hl := &headerLog{}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		hl.add(&ctx.Request.Header)
		b.Handler(ctx)
	}}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return b, ln.Addr().String(), hl
}

type headerLog struct {
	mu   sync.Mutex
	last map[string]string
}

func (h *headerLog) add(rh *fasthttp.RequestHeader) {
	m := map[string]string{}
	for k, v := range rh.All() {
		m[string(k)] = string(v)
	}
	h.mu.Lock()
	h.last = m
	h.mu.Unlock()
}

func (h *headerLog) get(k string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.last[k]
}

func proxyYAML(addr string, timeout string) string {
	return `
upstreams: [{name: orders, addrs: ["` + addr + `"], timeout: ` + timeout + `, connect_timeout: 200ms}]
activities: [{id: phone-sale, product: phone-x, stock: 2, shards: 1}]
routes:
  - {method: POST, path: "/buy/{activity}", filters: [{test_hold: {}}], action: {type: proxy, upstream: orders, rewrite: /orders}}
`
}

func TestProxyForwardsWithIdempotencyKey(t *testing.T) {
	b, addr, hl := startBackend(t, demobackend.Options{})
	ts := newTestServer(t, proxyYAML(addr, "2s"), Deps{})
	// The client cannot choose its identity or idempotency key.
	r := ts.do(t, "POST", "/buy/phone-sale", "X-User-Id", "u1", "Idempotency-Key", "forged",
		"Connection", "keep-alive, X-Secret", "X-Forwarded-For", "10.9.9.9")
	if r.StatusCode() != 201 {
		t.Fatalf("status %d: %s", r.StatusCode(), r.Body())
	}
	if got := hl.get("Idempotency-Key"); got != "phone-sale:u1:"+seqOf(t, got) {
		t.Errorf("Idempotency-Key %q", got)
	}
	if hl.get("X-User-Id") != "u1" || hl.get("X-Activity-Id") != "phone-sale" {
		t.Errorf("identity headers: %v", hl.last)
	}
	// Over the in-memory listener there is no client IP to append.
	if hl.get("X-Forwarded-For") != "10.9.9.9" {
		t.Errorf("X-Forwarded-For %q", hl.get("X-Forwarded-For"))
	}
	if hl.get("X-Request-Id") == "" || len(r.Header.Peek("X-Request-Id")) == 0 {
		t.Errorf("X-Request-Id not generated and returned")
	}
	if b.Orders() != 1 {
		t.Errorf("backend has %d orders", b.Orders())
	}
}

func seqOf(t testing.TB, key string) string {
	i := strings.LastIndexByte(key, ':')
	if i < 0 {
		t.Fatalf("bad key %q", key)
	}
	return key[i+1:]
}

func TestProxyReleasesOnBackendFailure(t *testing.T) {
	_, addr, _ := startBackend(t, demobackend.Options{FailRate: 1})
	ts := newTestServer(t, proxyYAML(addr, "2s"), Deps{})
	for i := 0; i < 3; i++ {
		if r := ts.do(t, "POST", "/buy/phone-sale", "X-User-Id", "u1"); r.StatusCode() != 500 {
			t.Fatalf("status %d", r.StatusCode())
		}
	}
	left, err := ts.deps.Stock.Left(bgCtx(), "phone-sale")
	if err != nil || left != 2 {
		t.Errorf("stock not given back: left=%d err=%v", left, err)
	}
}

func TestProxyUnreachableAndTimeout(t *testing.T) {
	// A port with nothing listening: refused at once, unit released.
	ln, _ := net.Listen("tcp4", "127.0.0.1:0")
	dead := ln.Addr().String()
	ln.Close()
	ts := newTestServer(t, proxyYAML(dead, "2s"), Deps{})
	start := time.Now()
	r := ts.do(t, "POST", "/buy/phone-sale", "X-User-Id", "u1", "Accept", "application/json")
	if r.StatusCode() != 502 || !bytes.Contains(r.Body(), []byte("upstream_unreachable")) {
		t.Fatalf("status %d body %s", r.StatusCode(), r.Body())
	}
	if time.Since(start) > 3*time.Second {
		t.Errorf("502 took %s", time.Since(start))
	}
	if left, _ := ts.deps.Stock.Left(bgCtx(), "phone-sale"); left != 2 {
		t.Errorf("unreachable backend: unit not released, left=%d", left)
	}

	// A backend slower than the timeout: 504, and the unit stays held
	// because the backend may still create the order.
	_, slow, _ := startBackend(t, demobackend.Options{Latency: 2 * time.Second})
	ts2 := newTestServer(t, proxyYAML(slow, "200ms"), Deps{})
	r = ts2.do(t, "POST", "/buy/phone-sale", "X-User-Id", "u2", "Accept", "application/json")
	if r.StatusCode() != 504 {
		t.Fatalf("slow backend: status %d body %s", r.StatusCode(), r.Body())
	}
	if left, _ := ts2.deps.Stock.Left(bgCtx(), "phone-sale"); left != 1 {
		t.Errorf("timeout must keep the unit held, left=%d", left)
	}
}

func TestShedding(t *testing.T) {
	ts := newTestServer(t, "server: {max_inflight: 1}\n"+baseYAML, Deps{})
	ts.inflight.Add(1) // one request already in flight
	r := ts.do(t, "GET", "/p/phone-x", "Accept", "application/json")
	ts.inflight.Add(-1)
	if r.StatusCode() != 503 || string(r.Header.Peek("Retry-After")) != "1" {
		t.Fatalf("not shed: %d", r.StatusCode())
	}
	if r := ts.do(t, "GET", "/p/phone-x"); r.StatusCode() != 200 {
		t.Fatalf("after shedding: %d", r.StatusCode())
	}
}

func TestReloadKeepsOldConfigOnError(t *testing.T) {
	ts := newTestServer(t, baseYAML, Deps{})
	bad, err := conf.Parse([]byte(`routes: [{path: /x, action: {type: static, page: nope}}]`))
	if err != nil {
		t.Fatal(err)
	}
	bad.Static.Catalogue = "testdata/catalogue.yaml"
	if _, err := ts.Reload(bad); err == nil || !strings.Contains(err.Error(), "routes[0].action.page") {
		t.Fatalf("bad reload: %v", err)
	}
	if r := ts.do(t, "GET", "/reject"); r.StatusCode() != 418 {
		t.Fatalf("old config lost: %d", r.StatusCode())
	}
	good, _ := conf.Parse([]byte(`routes: [{path: /new, action: {type: static, page: mug}}]`))
	good.Static.Catalogue = "testdata/catalogue.yaml"
	if _, err := ts.Reload(good); err != nil {
		t.Fatal(err)
	}
	if r := ts.do(t, "GET", "/new"); r.StatusCode() != 200 {
		t.Fatalf("new route: %d", r.StatusCode())
	}
	if r := ts.do(t, "GET", "/reject"); r.StatusCode() != 404 {
		t.Fatalf("old route still served: %d", r.StatusCode())
	}
}

func TestOversizedHeader(t *testing.T) {
	ts := newTestServer(t, baseYAML, Deps{})
	r := ts.do(t, "GET", "/p/phone-x", "X-Big", strings.Repeat("a", 20000))
	if r.StatusCode() != 431 || !bytes.Contains(r.Body(), []byte("header_too_large")) {
		t.Fatalf("status %d body %s", r.StatusCode(), r.Body())
	}
}

// TestManyActivitiesOwnChains: twelve sales at once, the same path
// pattern, two different chains chosen by each route's activities.
func TestManyActivitiesOwnChains(t *testing.T) {
	var acts, open, closed []string
	for i := 0; i < 12; i++ {
		id := "sale" + string(rune('a'+i))
		acts = append(acts, "{id: "+id+", product: phone-x, stock: 5}")
		if i < 6 {
			open = append(open, id)
		} else {
			closed = append(closed, id)
		}
	}
	yaml := "activities: [" + strings.Join(acts, ", ") + "]\nroutes:\n" +
		"  - {path: \"/buy/{activity}\", activities: [" + strings.Join(open, ", ") + "], filters: [{test_verdict: {do: pass}}], action: {type: json, endpoint: activity_status}}\n" +
		"  - {path: \"/buy/{activity}\", activities: [" + strings.Join(closed, ", ") + "], filters: [{test_verdict: {do: reject}}], action: {type: json, endpoint: activity_status}}\n"
	ts := newTestServer(t, yaml, Deps{})
	for i := 0; i < 12; i++ {
		want := 200
		if i >= 6 {
			want = 418
		}
		if r := ts.do(t, "GET", "/buy/sale"+string(rune('a'+i))); r.StatusCode() != want {
			t.Errorf("sale %d: status %d, want %d", i, r.StatusCode(), want)
		}
	}
	// Two routes whose lists overlap: the conflict names both.
	cfg, err := conf.Parse([]byte("activities: [{id: a, stock: 1}, {id: b, stock: 1}]\nroutes:\n" +
		"  - {path: \"/buy/{activity}\", activities: [a], action: {type: json, endpoint: activity_status}}\n" +
		"  - {path: \"/buy/{activity}\", activities: [b, a], action: {type: json, endpoint: activity_status}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewServer(cfg, Deps{Stock: stock.NewMemory()}); err == nil ||
		!strings.Contains(err.Error(), "routes[1].path: routes[0] already serves GET /buy/a: give the two routes different paths, or disjoint activities: lists") {
		t.Errorf("overlapping routes: %v", err)
	}
	cfg, err = conf.Parse([]byte("activities: [{id: a, stock: 1}]\nroutes: [{path: /x, activities: [a, b], action: {type: json, endpoint: activity_status}}]"))
	if err == nil || !strings.Contains(err.Error(), "routes[0].activities: needs {activity} in the path") ||
		!strings.Contains(err.Error(), `routes[0].activities[1]: unknown activity "b"`) {
		t.Errorf("bad activities accepted: %v %v", cfg, err)
	}
}

// TestBreaker: after consecutive failures the route answers 503 before its
// chain runs, so no unit is taken for an order that cannot be delivered;
// once the backend is back, a probe closes the breaker.
func TestBreaker(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens: every exchange fails at once
	yaml := strings.Replace(proxyYAML(addr, "1s"), "connect_timeout: 200ms}", "connect_timeout: 200ms, breaker_failures: 2, breaker_open: 300ms}", 1)
	clk := newTestClock()
	ts := newTestServer(t, yaml, Deps{Now: clk.now})
	for i := 0; i < 2; i++ {
		if r := ts.do(t, "POST", "/buy/phone-sale", "X-User-Id", "u1"); r.StatusCode() != 502 {
			t.Fatalf("failure %d: %d", i, r.StatusCode())
		}
	}
	r := ts.do(t, "POST", "/buy/phone-sale", "X-User-Id", "u2", "Accept", "application/json")
	if r.StatusCode() != 503 || string(r.Header.Peek("X-Flashgate-Reason")) != "upstream_unavailable" || string(r.Header.Peek("Retry-After")) != "1" {
		t.Fatalf("open breaker: %d %s", r.StatusCode(), r.Body())
	}
	if left, _ := ts.deps.Stock.Left(bgCtx(), "phone-sale"); left != 2 {
		t.Errorf("stock touched while the breaker was open: left=%d", left)
	}
	// The backend comes back on the same address; after the open period a
	// probe goes through and closes the breaker.
	b := demobackend.New(demobackend.Options{})
	ln2, err := net.Listen("tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: b.Handler}
	go func() { _ = srv.Serve(ln2) }()
	defer srv.Shutdown()
	if r := ts.do(t, "POST", "/buy/phone-sale", "X-User-Id", "u3"); r.StatusCode() != 503 {
		t.Fatalf("before breaker_open passed: %d", r.StatusCode())
	}
	clk.add(300 * time.Millisecond)
	if r := ts.do(t, "POST", "/buy/phone-sale", "X-User-Id", "u3"); r.StatusCode() != 201 {
		t.Fatalf("probe after recovery: %d %s", r.StatusCode(), r.Body())
	}
	if r := ts.do(t, "POST", "/buy/phone-sale", "X-User-Id", "u4"); r.StatusCode() != 201 {
		t.Fatalf("breaker not closed: %d", r.StatusCode())
	}
}

// TestProxyBrokenAfterSend: a backend that reads the order and then drops
// the connection may have created it, so the unit stays held (a release
// would let the unit be sold twice).
func TestProxyBrokenAfterSend(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, 4096)
			_, _ = c.Read(buf) // the request arrived
			c.Close()
		}
	}()
	ts := newTestServer(t, proxyYAML(ln.Addr().String(), "2s"), Deps{})
	r := ts.do(t, "POST", "/buy/phone-sale", "X-User-Id", "u1", "Accept", "application/json")
	if r.StatusCode() != 502 || string(r.Header.Peek("X-Flashgate-Reason")) != "upstream_error" {
		t.Fatalf("status %d body %s", r.StatusCode(), r.Body())
	}
	if left, _ := ts.deps.Stock.Left(bgCtx(), "phone-sale"); left != 1 {
		t.Errorf("unit released after the order may have been delivered: left=%d", left)
	}
}

// TestProxyStaleKeepAlive: a backend that closes a keep-alive connection
// after answering (its idle timeout shorter than ours, or a restart)
// leaves a dead connection in the pool. The next order goes out again on
// a fresh connection instead of failing 502 with its unit held, and the
// backend sees each order once.
func TestProxyStaleKeepAlive(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var mu sync.Mutex
	seen := map[string]int{}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close() // after one answer, without "Connection: close"
				req, err := http.ReadRequest(bufio.NewReader(c))
				if err != nil {
					return
				}
				mu.Lock()
				seen[req.Header.Get("Idempotency-Key")]++
				mu.Unlock()
				_, _ = io.WriteString(c, "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
			}(c)
		}
	}()
	ts := newTestServer(t, proxyYAML(ln.Addr().String(), "2s"), Deps{})
	for _, u := range []string{"u1", "u2"} { // the stock: 2
		time.Sleep(50 * time.Millisecond) // the backend's close reaches the pooled connection
		r := ts.do(t, "POST", "/buy/phone-sale", "X-User-Id", u, "Accept", "application/json")
		if r.StatusCode() != 201 {
			t.Fatalf("%s: status %d reason %q body %s", u, r.StatusCode(), r.Header.Peek("X-Flashgate-Reason"), r.Body())
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 {
		t.Errorf("backend saw orders %v, want 2 keys", seen)
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("order %s reached the backend %d times", k, n)
		}
	}
}

// TestRequestIDPassedOnOnlyWhenPlain: the client's X-Request-Id reaches
// the backend and comes back when it is plain; anything else (a JWT's
// dots, a space, over 64 characters) is replaced by a generated id, so it
// reaches neither the backend nor a log line.
func TestRequestIDPassedOnOnlyWhenPlain(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var got headerLog
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		got.add(&ctx.Request.Header)
		ctx.SetStatusCode(201)
	}}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Shutdown()
	ts := newTestServer(t, proxyYAML(ln.Addr().String(), "2s"), Deps{})
	for i, tc := range []struct {
		sent string
		kept bool
	}{
		{"trace-42_A", true},
		{"eyJhbGciOi.eyJzdWIiOi.sig", false}, // the stock is 2: two purchases
	} {
		r := ts.do(t, "POST", "/buy/phone-sale", "X-User-Id", "u"+strconv.Itoa(i), "X-Request-Id", tc.sent)
		if r.StatusCode() != 201 {
			t.Fatalf("%q: status %d", tc.sent, r.StatusCode())
		}
		back, at := string(r.Header.Peek("X-Request-Id")), got.get("X-Request-Id")
		if back != at || (back == tc.sent) != tc.kept || !wellFormedID([]byte(at)) {
			t.Errorf("sent %q: backend got %q, client got %q (kept: want %v)", tc.sent, at, back, tc.kept)
		}
	}
}

// TestHopByHopNamedInConnection: headers a Connection header names do not
// cross the gateway, in either direction.
func TestHopByHopNamedInConnection(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var got headerLog
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		got.add(&ctx.Request.Header)
		ctx.Response.Header.Set("Connection", "X-Secret")
		ctx.Response.Header.Set("X-Secret", "leak")
		ctx.Response.Header.Set("Server", "backend/1.0")
		ctx.SetStatusCode(201)
	}}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Shutdown()
	ts := newTestServer(t, proxyYAML(ln.Addr().String(), "2s"), Deps{})
	r := ts.do(t, "POST", "/buy/phone-sale", "X-User-Id", "u1", "Connection", "keep-alive, X-Hop", "X-Hop", "secret")
	if r.StatusCode() != 201 {
		t.Fatalf("status %d", r.StatusCode())
	}
	if got.get("X-Hop") != "" {
		t.Error("X-Hop named in Connection reached the backend")
	}
	if len(r.Header.Peek("X-Secret")) != 0 || len(r.Header.Peek("Server")) != 0 {
		t.Errorf("backend headers leaked: X-Secret=%q Server=%q", r.Header.Peek("X-Secret"), r.Header.Peek("Server"))
	}
}

// TestRejectAfterStockReleases: a filter after the unit was taken refuses,
// so the unit goes back instead of being lost.
func TestRejectAfterStockReleases(t *testing.T) {
	_, addr, _ := startBackend(t, demobackend.Options{})
	yaml := strings.Replace(proxyYAML(addr, "2s"), "filters: [{test_hold: {}}]", "filters: [{test_hold: {}}, {test_verdict: {do: reject}}]", 1)
	ts := newTestServer(t, yaml, Deps{})
	for _, u := range []string{"u1", "u2"} { // the stock: 2
		if r := ts.do(t, "POST", "/buy/phone-sale", "X-User-Id", u); r.StatusCode() != 418 {
			t.Fatalf("status %d", r.StatusCode())
		}
	}
	if left, _ := ts.deps.Stock.Left(bgCtx(), "phone-sale"); left != 2 {
		t.Errorf("units lost to later rejections: left=%d", left)
	}
}

func TestStockNeedsAnOrderAction(t *testing.T) {
	ds := []decoded{{typ: "identity"}, {typ: "stock", path: "routes[0].filters[1].stock"}}
	tests := []struct {
		action conf.Action
		ok     bool
	}{
		{conf.Action{Type: "proxy", Upstream: "o"}, true},
		{conf.Action{Type: "json", Endpoint: "stock_decision"}, true},
		{conf.Action{Type: "json", Endpoint: "activity_status"}, false},
		{conf.Action{Type: "static", Page: "mug"}, false},
	}
	for _, tc := range tests {
		err := checkStockAction("routes[0]", conf.Route{Action: tc.action}, ds)
		if (err == nil) != tc.ok {
			t.Errorf("%+v: err %v", tc.action, err)
		}
	}
}

// TestFailedReloadLeavesStock: a config that does not build changes no
// running sale, even in the stock it would have loaded.
func TestFailedReloadLeavesStock(t *testing.T) {
	ts := newTestServer(t, baseYAML, Deps{})
	bad, err := conf.Parse([]byte(strings.Replace(baseYAML, "stock: 3", "stock: 99", 1) +
		"  - {path: /x, filters: [{test_verdict: {do: pass}}], action: {type: static, page: nope}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	bad.Static.Catalogue = "testdata/catalogue.yaml"
	if _, err := ts.Reload(bad); err == nil {
		t.Fatal("bad reload accepted")
	}
	if left, _ := ts.deps.Stock.Left(bgCtx(), "phone-sale"); left != 3 {
		t.Errorf("failed reload changed the stock: left=%d", left)
	}
}

func TestOptions(t *testing.T) {
	ts := newTestServer(t, baseYAML, Deps{})
	r := ts.do(t, "OPTIONS", "/p/phone-x")
	if r.StatusCode() != 204 || string(r.Header.Peek("Allow")) != "GET, HEAD, OPTIONS" {
		t.Fatalf("OPTIONS: %d Allow=%q", r.StatusCode(), r.Header.Peek("Allow"))
	}
}
