package gateway

import (
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flashgate/flashgate/internal/shed"
)

// TestRouteSheds: once every purchase of an interval took longer than
// shed.target, the route holds only maxPass × minRT in flight and answers
// the rest with the busy page before the chain runs (no unit taken); the
// purchases already admitted, which hold a unit, complete.
func TestRouteSheds(t *testing.T) {
	sb := startScripted(t)
	clk := newTestClock()
	yaml := `
upstreams: [{name: orders, addrs: ["` + sb.addr + `"], timeout: 3s, connect_timeout: 300ms}]
activities: [{id: phone-sale, product: phone-x, stock: 20, shards: 1}]
routes:
  - {method: POST, path: "/buy/{activity}", shed: {target: 20ms, interval: 100ms}, filters: [{test_hold: {}}], action: {type: proxy, upstream: orders, rewrite: /orders}}
  - {path: "/p/{product}", action: {type: static, page: "{product}"}}
`
	ts := newTestServer(t, yaml, Deps{Now: clk.now})
	// Interval 0: four purchases, each 50ms by the injected clock.
	first := make(chan result, 4)
	for i := range 4 {
		go func() { first <- ts.buy(t, "slow"+string(rune('a'+i))) }()
		<-sb.arrived
	}
	clk.add(50 * time.Millisecond)
	sb.release <- struct{}{}
	sb.release <- struct{}{}
	sb.release <- struct{}{}
	sb.release <- struct{}{}
	for range 4 {
		if got := <-first; got.status != 201 {
			t.Fatalf("first interval: %+v", got)
		}
	}
	clk.add(50 * time.Millisecond) // interval 1: 4 × 50ms / 100ms = 2 in flight
	held := make(chan result, 2)
	for i := range 2 {
		go func() { held <- ts.buy(t, "slow"+string(rune('m'+i))) }()
		<-sb.arrived
	}
	left, _ := ts.deps.Stock.Left(bgCtx(), "phone-sale")
	for _, u := range []string{"u1", "u2", "u3"} {
		if got := ts.buy(t, u); got != (result{503, "busy"}) {
			t.Fatalf("%s with 2 in flight: %+v, want 503 busy", u, got)
		}
	}
	if now, _ := ts.deps.Stock.Left(bgCtx(), "phone-sale"); now != left {
		t.Fatalf("a shed request took stock: left %d -> %d", left, now)
	}
	if r := ts.do(t, "GET", "/p/phone-x"); r.StatusCode() != 200 {
		t.Fatalf("a route without shed was shed: %d", r.StatusCode())
	}
	clk.add(time.Millisecond)
	close(sb.release)
	for range 2 {
		if got := <-held; got.status != 201 {
			t.Fatalf("a purchase holding a unit did not complete: %+v", got)
		}
	}
	// Both took 1ms: the next interval sees no standing queue.
	clk.add(100 * time.Millisecond)
	if got := ts.buy(t, "u4"); got.status != 201 {
		t.Fatalf("after the queue went: %+v", got)
	}
}

// sheddingRoute is a route whose shedder is shedding: one interval of
// slow requests by the injected clock, then in flight up to its limit.
func sheddingRoute(tb testing.TB) (fasthttp.RequestHandler, *testClock) {
	tb.Helper()
	s := benchServer(tb, chainYAML)
	clk := newTestClock()
	sh := shed.New(shed.Settings{Target: 10 * time.Millisecond, Interval: 100 * time.Millisecond, Now: clk.now})
	var starts []int64
	for range 20 {
		st, _ := sh.Admit()
		starts = append(starts, st)
	}
	clk.add(50 * time.Millisecond)
	for _, st := range starts {
		sh.Done(st)
	}
	clk.add(50 * time.Millisecond)
	for {
		if _, ok := sh.Admit(); !ok {
			break
		}
	}
	rt := &Route{Name: "shed_test", metrics: newRouteMetrics("shed_test"), shed: sh,
		shedPage: s.Instance().busy, shedded: requestsTotal.WithLabelValues("shed_test", "shed")}
	return rt.handler(nil, func(*Request) { tb.Fatal("a shed request reached its action") }), clk
}

// BenchmarkShedRoute is the answer of a shedding route: the pre-rendered
// busy page, before the chain.
func BenchmarkShedRoute(b *testing.B) {
	h, _ := sheddingRoute(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		ctx := newCtx("POST", "/buy/phone-sale")
		for pb.Next() {
			ctx.Response.Reset()
			h(ctx)
			if ctx.Response.StatusCode() != 503 {
				b.Fatalf("status %d", ctx.Response.StatusCode())
			}
		}
	})
}
