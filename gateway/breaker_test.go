package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/valyala/fasthttp"

	"github.com/flashgate/flashgate/internal/breaker"
	"github.com/flashgate/flashgate/internal/syncbuf"
)

// testClock is an injected clock (Deps.Now): tests move it, never sleep.
type testClock struct{ ns atomic.Int64 }

func newTestClock() *testClock {
	c := &testClock{}
	c.ns.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func (c *testClock) now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *testClock) add(d time.Duration) { c.ns.Add(int64(d)) }

func TestUpstreamOutcome(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		status int
		want   breaker.Outcome
	}{
		{"2xx", nil, 201, breaker.Success},
		{"409", nil, 409, breaker.Success},
		{"4xx is the client's", nil, 422, breaker.Success},
		{"5xx", nil, 503, breaker.Failure},
		{"timeout", fasthttp.ErrTimeout, 200, breaker.Failure},
		{"dial timeout", fasthttp.ErrDialTimeout, 200, breaker.Failure},
		{"refused", &net.OpError{Op: "dial", Err: errors.New("connection refused")}, 200, breaker.Failure},
		{"broken after send", errors.New("connection reset"), 200, breaker.Failure},
		{"local pool full", fasthttp.ErrNoFreeConns, 200, breaker.Ignore},
		{"local pool full, wrapped", fmt.Errorf("lb: %w", fasthttp.ErrNoFreeConns), 200, breaker.Ignore},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := upstreamOutcome(tc.err, tc.status); got != tc.want {
				t.Errorf("outcome %v, want %v", got, tc.want)
			}
		})
	}
}

// scriptedBackend answers by X-User-Id: "slow*" users wait until release
// is closed (arrived gets a signal first), "fail*" users get 500, the
// others 201.
type scriptedBackend struct {
	addr    string
	arrived chan string
	release chan struct{}
	calls   atomic.Int64
}

func startScripted(t *testing.T) *scriptedBackend {
	t.Helper()
	sb := &scriptedBackend{arrived: make(chan string, 16), release: make(chan struct{})}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sb.addr = ln.Addr().String()
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		sb.calls.Add(1)
		user := string(ctx.Request.Header.Peek("X-User-Id"))
		switch {
		case strings.HasPrefix(user, "slow"):
			sb.arrived <- user
			<-sb.release
		case strings.HasPrefix(user, "fail"):
			ctx.SetStatusCode(500)
			return
		}
		ctx.SetStatusCode(201)
	}}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		select {
		case <-sb.release:
		default:
			close(sb.release)
		}
		_ = srv.Shutdown()
	})
	return sb
}

func breakerYAML(addr, upstreamExtra string) string {
	return `
upstreams: [{name: orders, addrs: ["` + addr + `"], timeout: 3s, connect_timeout: 300ms, ` + upstreamExtra + `}]
activities: [{id: phone-sale, product: phone-x, stock: 20, shards: 1}]
routes:
  - {method: POST, path: "/buy/{activity}", filters: [{test_hold: {}}], action: {type: proxy, upstream: orders, rewrite: /orders}}
`
}

type result struct {
	status int
	reason string
}

func (ts *testServer) buy(t *testing.T, user string) result {
	r := ts.do(t, "POST", "/buy/phone-sale", "X-User-Id", user)
	return result{r.StatusCode(), string(r.Header.Peek("X-Flashgate-Reason"))}
}

// TestBreakerLateSuccessKeepsItOpen: an order that was sent while the
// breaker was closed and succeeds after it opened (the generation
// changed) must not close it; the next probe after breaker_open does.
func TestBreakerLateSuccessKeepsItOpen(t *testing.T) {
	sb := startScripted(t)
	clk := newTestClock()
	ts := newTestServer(t, breakerYAML(sb.addr, "breaker_failures: 2, breaker_open: 5s"), Deps{Now: clk.now})

	slow := make(chan result, 1)
	go func() { slow <- ts.buy(t, "slow1") }()
	<-sb.arrived // the slow order is at the backend
	for _, u := range []string{"fail1", "fail2"} {
		if got := ts.buy(t, u); got.status != 500 {
			t.Fatalf("%s: %+v", u, got)
		}
	}
	close(sb.release)
	if got := <-slow; got.status != 201 {
		t.Fatalf("slow order: %+v", got)
	}
	calls := sb.calls.Load()
	if got := ts.buy(t, "u1"); got != (result{503, "upstream_unavailable"}) {
		t.Fatalf("after the late success: %+v, want 503 upstream_unavailable", got)
	}
	if sb.calls.Load() != calls {
		t.Fatal("an open breaker let a request reach the backend")
	}
	clk.add(5 * time.Second)
	if got := ts.buy(t, "u2"); got.status != 201 {
		t.Fatalf("probe after breaker_open: %+v", got)
	}
	if got := ts.buy(t, "u3"); got.status != 201 {
		t.Fatalf("closed after the probe: %+v", got)
	}
}

// TestBreakerHalfOpenProbes: a half-open breaker lets breaker_probes
// requests through at once and refuses the rest; a probe that the chain
// turned away before it was forwarded frees its slot.
func TestBreakerHalfOpenProbes(t *testing.T) {
	sb := startScripted(t)
	clk := newTestClock()
	yaml := breakerYAML(sb.addr, "breaker_failures: 1, breaker_open: 2s, breaker_probes: 2") + `
  - {method: POST, path: "/nope/{activity}", filters: [{test_verdict: {do: reject}}], action: {type: proxy, upstream: orders}}
`
	ts := newTestServer(t, yaml, Deps{Now: clk.now})
	if got := ts.buy(t, "fail1"); got.status != 500 {
		t.Fatalf("failure: %+v", got)
	}
	if got := ts.buy(t, "u0"); got.reason != "upstream_unavailable" {
		t.Fatalf("open: %+v", got)
	}
	clk.add(2 * time.Second)
	// A request the chain rejects takes a probe slot and gives it back.
	if r := ts.do(t, "POST", "/nope/phone-sale"); r.StatusCode() != 418 {
		t.Fatalf("rejected probe: %d", r.StatusCode())
	}
	probes := make(chan result, 2)
	for _, u := range []string{"slow1", "slow2"} {
		go func() { probes <- ts.buy(t, u) }()
		<-sb.arrived
	}
	if got := ts.buy(t, "u1"); got != (result{503, "upstream_unavailable"}) {
		t.Fatalf("third request while two probes are out: %+v", got)
	}
	close(sb.release)
	for range 2 {
		if got := <-probes; got.status != 201 {
			t.Fatalf("probe: %+v", got)
		}
	}
	if got := ts.buy(t, "u2"); got.status != 201 {
		t.Fatalf("after two good probes: %+v", got)
	}
}

// TestPoolFullIsNotBackendFailure: with every upstream connection busy,
// a request waits connect_timeout for one and then gets the busy page
// (503, its unit given back); the backend did nothing wrong, so its
// breaker stays closed even at breaker_failures: 1.
func TestPoolFullIsNotBackendFailure(t *testing.T) {
	sb := startScripted(t)
	ts := newTestServer(t, breakerYAML(sb.addr, "max_conns: 1, breaker_failures: 1"), Deps{})
	slow := make(chan result, 1)
	go func() { slow <- ts.buy(t, "slow1") }()
	<-sb.arrived
	if got := ts.buy(t, "u1"); got != (result{503, "busy"}) {
		t.Fatalf("pool full: %+v, want 503 busy", got)
	}
	if left, _ := ts.deps.Stock.Left(bgCtx(), "phone-sale"); left != 19 {
		t.Errorf("left = %d, want 19 (only the slow order's unit held)", left)
	}
	close(sb.release)
	if got := <-slow; got.status != 201 {
		t.Fatalf("slow order: %+v", got)
	}
	if got := ts.buy(t, "u1"); got.status != 201 {
		t.Fatalf("after the pool freed: %+v (the breaker must not have opened)", got)
	}
}

func TestRedisOutcome(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want breaker.Outcome
	}{
		{"answered", nil, breaker.Success},
		{"nil reply is an answer", rueidis.Nil, breaker.Success},
		{"script error is an answer", fmt.Errorf("stock: take: %w", &rueidis.RedisError{}), breaker.Success},
		{"timeout", context.DeadlineExceeded, breaker.Failure},
		{"wrapped timeout", fmt.Errorf("stock: take: %w", context.DeadlineExceeded), breaker.Failure},
		{"broken connection", io.EOF, breaker.Failure},
		{"caller went away", context.Canceled, breaker.Ignore},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := RedisOutcome(tc.err); got != tc.want {
				t.Errorf("outcome %v, want %v", got, tc.want)
			}
		})
	}
}

// TestBreakerGaugeFollowsClock: flashgate_breaker_state says half-open
// once the open period is over, at the next scrape, with no call through
// the breaker (a quiet instance showed "open" long after recovery); a
// reload the gateway refused does not speak for the serving breaker; and
// the log holds the outage's timeline: opened once, closed once.
func TestBreakerGaugeFollowsClock(t *testing.T) {
	sb := startScripted(t)
	clk := newTestClock()
	var logs syncbuf.Buffer
	yaml := breakerYAML(sb.addr, "breaker_failures: 1, breaker_open: 1s")
	ts := newTestServer(t, yaml, Deps{Now: clk.now, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	state := func() float64 {
		t.Helper()
		mfs, err := Registry.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() != "flashgate_breaker_state" {
				continue
			}
			for _, m := range mf.GetMetric() {
				if m.GetLabel()[0].GetValue() == "upstream:orders" {
					return m.GetGauge().GetValue()
				}
			}
		}
		t.Fatal(`no flashgate_breaker_state{breaker="upstream:orders"}`)
		return 0
	}
	if got := ts.buy(t, "fail1"); got.status != 500 {
		t.Fatalf("failing order: %+v", got)
	}
	if s := state(); s != 1 {
		t.Fatalf("after the failure: %v, want 1 (open)", s)
	}
	bad := yaml + `  - {name: again, method: POST, path: "/buy/{activity}", action: {type: proxy, upstream: orders}}` + "\n"
	if _, err := ts.Reload(parse(t, bad)); err == nil {
		t.Fatal("a config with the same route twice was accepted")
	}
	if s := state(); s != 1 {
		t.Fatalf("after a refused reload: %v, want 1: its unused breaker spoke for the serving one", s)
	}
	clk.add(2 * time.Second)
	if s := state(); s != 2 {
		t.Fatalf("after the open period: %v, want 2 (half-open)", s)
	}
	if got := ts.buy(t, "ok1"); got.status != 201 {
		t.Fatalf("probe: %+v", got)
	}
	if s := state(); s != 0 {
		t.Fatalf("after the probe: %v, want 0 (closed)", s)
	}
	// The lines are written off the breaker's lock, by their own goroutines.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		out := logs.String()
		if strings.Count(out, "breaker open") == 1 && strings.Count(out, "breaker closed") == 1 &&
			strings.Contains(out, "breaker=upstream:orders") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("log:\n%s", out)
		}
	}
}
