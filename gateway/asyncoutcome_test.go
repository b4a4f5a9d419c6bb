package gateway_test

import (
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flashgate/flashgate/gateway"
	"github.com/flashgate/flashgate/internal/gatewaytest"
	"github.com/flashgate/flashgate/stock"
)

// TestAsyncBackpressure: a backend's 429 and 503 with Retry-After reach
// the queue through the upstream: the order waits at least that long,
// uses no attempt (attempts: 1 would have dead-lettered it at the first
// 5xx), and its poll says queued with the 429 meanwhile.
func TestAsyncBackpressure(t *testing.T) {
	var mu sync.Mutex
	var sends []time.Time
	gate := make(chan struct{})
	backend := func(ctx *fasthttp.RequestCtx) {
		mu.Lock()
		sends = append(sends, time.Now())
		n := len(sends)
		mu.Unlock()
		switch n {
		case 1:
			ctx.Response.Header.Set("Retry-After", "1")
			ctx.SetStatusCode(429)
		case 2:
			<-gate // the test has seen the queued poll
			ctx.Response.Header.Set("Retry-After", "1")
			ctx.SetStatusCode(503)
		default:
			ctx.SetStatusCode(201)
			ctx.SetBodyString(`{"order_id":"o-1"}`)
		}
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: backend}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown() })

	yaml := strings.Replace(asyncYAML, "BACKEND", ln.Addr().String(), 1)
	yaml = strings.Replace(yaml, "queue: {rate: 1000, attempts: 2, backoff: 1ms}", "queue: {rate: 1000, attempts: 1, backoff: 1ms}", 1)
	store := stock.NewMemory()
	s, err := gateway.NewServer(parse(t, yaml), gateway.Deps{Stock: store, AutoWarm: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	g := &asyncGateway{s: s, yaml: yaml, store: store, c: gatewaytest.Serve(t, s)}

	code, m := g.do(t, "POST", "/buy/phone-sale", "alice")
	poll, _ := m["poll"].(string)
	if code != 202 || poll == "" {
		t.Fatalf("purchase: %d %v, want 202 with a ticket", code, m)
	}
	var queued map[string]any
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		if _, queued = g.do(t, "GET", poll, "alice"); queued["code"] == 429.0 {
			break
		}
	}
	close(gate)
	if queued["status"] != "queued" || queued["code"] != 429.0 || queued["attempts"] != 0.0 {
		t.Errorf("poll while the backend pushes back: %v, want queued, code 429, 0 attempts", queued)
	}
	got := g.poll(t, poll, "alice")
	if got["status"] != "delivered" || got["code"] != 201.0 || got["attempts"] != 1.0 {
		t.Errorf("final: %v, want delivered, 201, after 1 attempt (the 429 and the 503 + Retry-After use none)", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(sends) != 3 {
		t.Fatalf("%d sends, want 3", len(sends))
	}
	for i := 1; i < 3; i++ {
		if gap := sends[i].Sub(sends[i-1]); gap < 900*time.Millisecond {
			t.Errorf("send %d came %v after the one told Retry-After: 1, want about 1 s", i+1, gap)
		}
	}
}
