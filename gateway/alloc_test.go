//go:build !race

package gateway

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/stock"
)

// TestZeroAllocs pins the request paths that must not allocate: the
// product page (plain, gzip, 304), a pass-through chain and a rejection,
// each through the whole public handler including routing.
func TestZeroAllocs(t *testing.T) {
	s := benchServer(t, chainYAML)
	probe := newCtx("GET", "/p/phone-x")
	serveOnce(s, probe)
	etag := string(probe.Response.Header.Peek("ETag"))
	tests := []struct {
		name, path string
		status     int
		headers    []string
	}{
		{"static page", "/p/phone-x", 200, nil},
		{"static gzip", "/p/phone-x", 200, []string{"Accept-Encoding", "gzip"}},
		{"static 304", "/p/phone-x", 304, []string{"If-None-Match", etag}},
		{"pass-through chain", "/chain/phone-sale", 200, nil},
		{"rejection json", "/rejected/phone-sale", 418, []string{"Accept", "application/json"}},
		{"rejection html", "/rejected/phone-sale", 418, nil},
		{"not found", "/nowhere", 404, nil},
		{"healthz", "/healthz", 200, nil},
	}
	t.Run("shed route", func(t *testing.T) {
		h, _ := sheddingRoute(t)
		ctx := newCtx("POST", "/buy/phone-sale", "Accept", "application/json")
		allocs := testing.AllocsPerRun(200, func() { ctx.Response.Reset(); h(ctx) })
		if ctx.Response.StatusCode() != 503 || string(ctx.Response.Header.Peek("X-Flashgate-Reason")) != "busy" {
			t.Fatalf("status %d %s, want 503 busy", ctx.Response.StatusCode(), ctx.Response.Header.Peek("X-Flashgate-Reason"))
		}
		if allocs != 0 {
			t.Errorf("%v allocs per shed request, want 0", allocs)
		}
	})
	t.Run("shed route html post", func(t *testing.T) {
		h, _ := sheddingRoute(t)
		ctx := newCtx("POST", "/buy/phone-sale")
		allocs := testing.AllocsPerRun(200, func() { ctx.Response.Reset(); h(ctx) })
		if ctx.Response.StatusCode() != 503 || string(ctx.Response.Header.ContentType()) != "text/html; charset=utf-8" {
			t.Fatalf("status %d %s, want 503 HTML", ctx.Response.StatusCode(), ctx.Response.Header.ContentType())
		}
		if allocs != 0 {
			t.Errorf("%v allocs per shed request, want 0", allocs)
		}
	})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := newCtx("GET", tc.path, tc.headers...)
			serveOnce(s, ctx) // warm pools
			allocs := testing.AllocsPerRun(200, func() { serveOnce(s, ctx) })
			if ctx.Response.StatusCode() != tc.status {
				t.Fatalf("status %d, want %d", ctx.Response.StatusCode(), tc.status)
			}
			if allocs != 0 {
				t.Errorf("%v allocs per request, want 0", allocs)
			}
		})
	}
}

// TestZeroAllocsAccessLogUnsampled: with the access log on, a request it
// does not sample allocates nothing either.
func TestZeroAllocsAccessLogUnsampled(t *testing.T) {
	cfg, err := conf.Parse([]byte("log: {access_every: 1000000000}\n" + chainYAML))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Static.Catalogue = "testdata/catalogue.yaml"
	st := stock.NewMemory()
	t.Cleanup(func() { _ = st.Close() })
	s, err := NewServer(cfg, Deps{Stock: st, AutoWarm: true, AccessLog: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if s.access == nil {
		t.Fatal("access log not on")
	}
	for _, path := range []string{"/p/phone-x", "/chain/phone-sale", "/rejected/phone-sale"} {
		ctx := newCtx("GET", path)
		serveOnce(s, ctx)
		if allocs := testing.AllocsPerRun(200, func() { serveOnce(s, ctx) }); allocs != 0 {
			t.Errorf("%s: %v allocs per unsampled request, want 0", path, allocs)
		}
	}
}

// purchaseYAML adds a purchase route (a proxy action), whose rejections
// are also counted per activity, and which an operator's pause stops.
const purchaseYAML = chainYAML + `  - path: /buy/{activity}
    filters: [{test_verdict: {do: reject}}]
    action: {type: proxy, upstream: orders}
upstreams: [{name: orders, addrs: ["127.0.0.1:1"]}]
`

// TestZeroAllocsPurchase pins the purchase route's rejection (counted per
// route, filter and activity) and the paused page at zero allocations.
func TestZeroAllocsPurchase(t *testing.T) {
	s := benchServer(t, purchaseYAML)
	for _, paused := range []bool{false, true} {
		if err := s.deps.Overrides.SetPaused(bgCtx(), "phone-sale", paused); err != nil {
			t.Fatal(err)
		}
		ctx := newCtx("GET", "/buy/phone-sale", "Accept", "application/json")
		serveOnce(s, ctx)
		allocs := testing.AllocsPerRun(200, func() { serveOnce(s, ctx) })
		want := map[bool]int{false: 418, true: 503}[paused]
		if ctx.Response.StatusCode() != want {
			t.Fatalf("paused=%v: status %d, want %d", paused, ctx.Response.StatusCode(), want)
		}
		if allocs != 0 {
			t.Errorf("paused=%v: %v allocs per request, want 0", paused, allocs)
		}
	}
}

// TestStatusFreshZeroAllocs: a status request within the refresh interval
// serves the cached body and allocates nothing.
func TestStatusFreshZeroAllocs(t *testing.T) {
	mem := stock.NewMemory()
	t.Cleanup(func() { _ = mem.Close() })
	if err := mem.Warm(bgCtx(), stock.Spec{Activity: "phone-sale", Stock: 3, Shards: 1, PerUser: 1}, false); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	e, act := newStatusEndpoint(t, mem, func() time.Time { return now }, 100*time.Millisecond)
	r := &Request{Ctx: new(fasthttp.RequestCtx), Activity: act}
	e.Respond(r) // builds the body
	allocs := testing.AllocsPerRun(200, func() {
		r.Ctx.Response.Reset()
		e.Respond(r)
	})
	if allocs != 0 {
		t.Errorf("%v allocs per fresh status request, want 0", allocs)
	}
	if len(r.Ctx.Response.Body()) == 0 {
		t.Error("no body")
	}
}

// TestGiveBackZeroAllocs: queueing a give-back for a remote store copies
// the unit into the queue and allocates nothing (no worker runs here, so
// only the request's side is measured).
func TestGiveBackZeroAllocs(t *testing.T) {
	act := NewActivity(0, conf.Activity{ID: "phone-sale", Stock: 1, Shards: 1, PerUser: 1})
	u := &Units{store: stock.NewMemory(), jobs: make(chan giveBack, 1)}
	r := &Request{Activity: act, User: []byte("user-42")}
	allocs := testing.AllocsPerRun(100, func() {
		r.Ticket = Ticket{Held: true, Seq: 7}
		u.GiveBack(r, "backend_rejected")
		<-u.jobs
	})
	if allocs != 0 {
		t.Fatalf("GiveBack: %v allocs, want 0", allocs)
	}
}
