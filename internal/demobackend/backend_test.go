package demobackend

import (
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"
)

// serve runs b over an in-memory listener and returns a client for it.
func serve(t *testing.T, b *Backend) *fasthttp.Client {
	t.Helper()
	ln := fasthttputil.NewInmemoryListener()
	srv := &fasthttp.Server{Handler: b.Handler}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown() })
	return &fasthttp.Client{
		Dial:         func(string) (net.Conn, error) { return ln.Dial() },
		ReadTimeout:  5 * time.Second,
		WriteTimeout: 5 * time.Second,
	}
}

type request struct {
	method, path string
	headers      map[string]string
	body         string
}

func order(key string) request {
	h := map[string]string{"X-User-Id": "u1", "X-Activity-Id": "a1", "X-Request-Id": "r1"}
	if key != "" {
		h["Idempotency-Key"] = key
	}
	return request{method: "POST", path: "/orders", headers: h, body: `{"sku":"s1"}`}
}

func do(t *testing.T, c *fasthttp.Client, r request) (int, string, *fasthttp.ResponseHeader) {
	t.Helper()
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI("http://backend" + r.path)
	req.Header.SetMethod(r.method)
	for k, v := range r.headers {
		req.Header.Set(k, v)
	}
	req.SetBodyString(r.body)
	if err := c.Do(req, resp); err != nil {
		t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	h := new(fasthttp.ResponseHeader)
	resp.Header.CopyTo(h)
	return resp.StatusCode(), string(resp.Body()), h
}

// TestContract walks one backend through the documented requests in
// order, since order ids and counts depend on what came before.
func TestContract(t *testing.T) {
	c := serve(t, New(Options{}))
	tests := []struct {
		name       string
		req        request
		wantStatus int
		wantBody   string
	}{
		{"new order", order("k1"), 201,
			`{"order_id":"o-1","idempotency_key":"k1","user":"u1","activity":"a1"}`},
		{"duplicate returns first order", order("k1"), 409,
			`{"error":"duplicate","order_id":"o-1"}`},
		{"missing key", order(""), 400, `{"error":"missing_idempotency_key"}`},
		{"second key", order("k2"), 201,
			`{"order_id":"o-2","idempotency_key":"k2","user":"u1","activity":"a1"}`},
		{"escaped key", order(`a"b\c`), 201,
			`{"order_id":"o-3","idempotency_key":"a\"b\\c","user":"u1","activity":"a1"}`},
		{"body too large", request{"POST", "/orders",
			map[string]string{"Idempotency-Key": "big"}, strings.Repeat("x", MaxBodySize+1)},
			413, `{"error":"body_too_large"}`},
		{"count", request{method: "GET", path: "/orders/count"}, 200,
			`{"orders":3,"duplicates":1}`},
		{"users: three orders of u1 in a1", request{method: "GET", path: "/orders/users"}, 200,
			`{"users":1,"repeat_users":2}`},
		{"healthz", request{method: "GET", path: "/healthz"}, 200, "ok"},
		{"wrong method", request{method: "GET", path: "/orders"}, 405,
			`{"error":"method_not_allowed"}`},
		{"unknown path", request{method: "POST", path: "/orders/k1/unpaid"}, 404,
			`{"error":"not_found"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body, _ := do(t, c, tc.req)
			if status != tc.wantStatus || body != tc.wantBody {
				t.Fatalf("got %d %s, want %d %s", status, body, tc.wantStatus, tc.wantBody)
			}
			if status != 200 && !json.Valid([]byte(body)) {
				t.Fatalf("body is not JSON: %s", body)
			}
		})
	}
}

func TestRequestIDEchoed(t *testing.T) {
	c := serve(t, New(Options{}))
	_, _, h := do(t, c, order("k"))
	if got := string(h.Peek("X-Request-Id")); got != "r1" {
		t.Fatalf("X-Request-Id = %q, want r1", got)
	}
	if got := string(h.ContentType()); got != "application/json" {
		t.Fatalf("Content-Type = %q", got)
	}
}

// TestOptions sends the same key twice to backends with injected faults.
func TestOptions(t *testing.T) {
	tests := []struct {
		name       string
		opts       Options
		wantStatus [2]int
		wantOrders int
		wantDups   int
		minTime    time.Duration
	}{
		{"fail rate 1 records nothing", Options{FailRate: 1}, [2]int{500, 500}, 0, 0, 0},
		{"fail rate 0", Options{FailRate: 0}, [2]int{201, 409}, 1, 1, 0},
		{"allow duplicates", Options{AllowDuplicates: true}, [2]int{201, 201}, 2, 1, 0},
		{"latency", Options{Latency: 30 * time.Millisecond}, [2]int{201, 409}, 1, 1, 60 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := New(tc.opts)
			c := serve(t, b)
			start := time.Now()
			for i, want := range tc.wantStatus {
				if status, body, _ := do(t, c, order("same")); status != want {
					t.Fatalf("request %d: got %d %s, want %d", i, status, body, want)
				}
			}
			if d := time.Since(start); d < tc.minTime {
				t.Fatalf("two orders took %s, want >= %s", d, tc.minTime)
			}
			if b.Orders() != tc.wantOrders || b.Duplicates() != tc.wantDups {
				t.Fatalf("orders=%d duplicates=%d, want %d %d",
					b.Orders(), b.Duplicates(), tc.wantOrders, tc.wantDups)
			}
			want := fmt.Sprintf(`{"orders":%d,"duplicates":%d}`, tc.wantOrders, tc.wantDups)
			if _, body, _ := do(t, c, request{method: "GET", path: "/orders/count"}); body != want {
				t.Fatalf("count = %s, want %s", body, want)
			}
		})
	}
}

// TestConcurrentKeys races 100 requests over 50 keys: each key must make
// exactly one order, and its duplicate must name that order.
func TestConcurrentKeys(t *testing.T) {
	const requests, keys = 100, 50
	b := New(Options{})
	c := serve(t, b)
	type result struct {
		key    string
		status int
		id     string
	}
	results := make([]result, requests)
	var wg sync.WaitGroup
	for i := range requests {
		wg.Go(func() {
			key := fmt.Sprintf("key-%d", i%keys)
			status, body, _ := do(t, c, order(key))
			var v struct {
				OrderID string `json:"order_id"`
			}
			if err := json.Unmarshal([]byte(body), &v); err != nil {
				t.Errorf("%s: %v: %s", key, err, body)
			}
			results[i] = result{key, status, v.OrderID}
		})
	}
	wg.Wait()
	if b.Orders() != keys || b.Duplicates() != requests-keys {
		t.Fatalf("orders=%d duplicates=%d, want %d %d", b.Orders(), b.Duplicates(), keys, requests-keys)
	}
	ids := map[string]string{}
	created := 0
	for _, r := range results {
		if r.status == 201 {
			created++
		} else if r.status != 409 {
			t.Fatalf("%s: status %d", r.key, r.status)
		}
		if prev, ok := ids[r.key]; ok && prev != r.id {
			t.Fatalf("%s: order ids %s and %s", r.key, prev, r.id)
		}
		ids[r.key] = r.id
	}
	if created != keys {
		t.Fatalf("%d created, want %d", created, keys)
	}
}
