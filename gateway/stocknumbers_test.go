package gateway

import (
	"encoding/json"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/internal/redistest"
	"github.com/flashgate/flashgate/stock"
)

const numbersYAML = `
activities:
  - {id: phone-sale, product: phone-x, stock: 2, shards: 2}
routes:
  - path: /api/activities/{activity}/status
    action: {type: json, endpoint: activity_status, config: {refresh: 1s}}
`

const adminToken = "numbers-test-token-0123456789"

// adminClient serves NewAdmin for ts over an in-memory listener.
type adminClient struct {
	c *fasthttp.Client
}

func newAdminClient(t *testing.T, ts *testServer, deps Deps, reload func() (Report, error)) *adminClient {
	t.Helper()
	adm, err := NewAdmin(conf.Admin{Listen: "inmemory", Token: adminToken}, ts.Server, deps, reload)
	if err != nil {
		t.Fatal(err)
	}
	ln := fasthttputil.NewInmemoryListener()
	go func() { _ = adm.Serve(ln) }()
	t.Cleanup(func() { _ = adm.srv.Shutdown() })
	return &adminClient{c: &fasthttp.Client{Dial: func(string) (net.Conn, error) { return ln.Dial() }}}
}

// call sends an authenticated admin request and decodes the JSON answer.
func (ac *adminClient) call(t *testing.T, method, path string, into any) int {
	t.Helper()
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod(method)
	req.SetRequestURI("http://admin.test" + path)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	if err := ac.c.DoTimeout(req, resp, 10*time.Second); err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if into != nil {
		if err := json.Unmarshal(resp.Body(), into); err != nil {
			t.Fatalf("%s %s: %d %q: %v", method, path, resp.StatusCode(), resp.Body(), err)
		}
	}
	return resp.StatusCode()
}

// TestStockNumbers drives a sale through sell-out, top-up, release,
// reload and re-warm, and checks after each that the admin stock answer,
// /admin/status and the public status JSON all show the store's numbers.
// Before the numbers were defined once, the admin said sold_out:false
// after the last sale, kept "stock" at the configured number after a
// top-up, and showed the new config's stock after a reload that the
// running sale kept.
func TestStockNumbers(t *testing.T) {
	for _, backend := range []string{"memory", "redis"} {
		t.Run(backend, func(t *testing.T) {
			clock := &manualClock{t: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
			deps := Deps{Now: clock.Now}
			if backend == "redis" {
				c := redistest.Client(t, redistest.Start(t).Addr())
				st, err := stock.NewRedis(stock.RedisOptions{Client: c, Prefix: "fg:", Timeout: 3 * time.Second})
				if err != nil {
					t.Fatal(err)
				}
				deps.Redis, deps.Stock = c, st
			}
			ts := newTestServer(t, numbersYAML, deps)
			deps.Stock = ts.deps.Stock
			ac := newAdminClient(t, ts, ts.deps, nil)
			if backend == "redis" {
				if code := ac.call(t, "POST", "/admin/activities/phone-sale/warm", nil); code != 200 {
					t.Fatalf("warm: %d", code)
				}
			}
			take := func(user string) stock.Decision {
				t.Helper()
				d, err := deps.Stock.Take(bgCtx(), "phone-sale", []byte(user))
				if err != nil || d.Result != stock.Admitted {
					t.Fatalf("Take(%s) = %+v, %v", user, d, err)
				}
				return d
			}
			check := func(step string, configured int64, want stock.Counts) {
				t.Helper()
				var got stockAnswer
				if code := ac.call(t, "GET", "/admin/activities/phone-sale/stock", &got); code != 200 {
					t.Fatalf("%s: admin stock: %d", step, code)
				}
				if wantA := (stockAnswer{Activity: "phone-sale", Configured: configured, Counts: want}); got != wantA {
					t.Errorf("%s: admin stock = %+v, want %+v", step, got, wantA)
				}
				var st struct{ Activities []statusActivity }
				ac.call(t, "GET", "/admin/status", &st)
				if len(st.Activities) != 1 || st.Activities[0].Counts == nil || *st.Activities[0].Counts != want ||
					st.Activities[0].Configured != configured {
					t.Errorf("%s: /admin/status activities = %+v, want %+v", step, st.Activities, want)
				}
				clock.Advance(time.Second) // one refresh of the public status
				var pub ActivityStatus
				if err := json.Unmarshal(ts.do(t, "GET", "/api/activities/phone-sale/status").Body(), &pub); err != nil {
					t.Fatal(err)
				}
				if pub.StockLeft == nil || *pub.StockLeft != want.Left || pub.SoldOut != want.SoldOut {
					t.Errorf("%s: public status stock_left=%v sold_out=%v, want %d %v", step, pub.StockLeft, pub.SoldOut, want.Left, want.SoldOut)
				}
			}
			check("warm", 2, stock.Counts{Loaded: 2, Total: 2, Left: 2})
			alice := take("alice")
			take("bob")
			check("sell-out", 2, stock.Counts{Loaded: 2, Total: 2, Left: 0, Sold: 2, SoldOut: true})

			if code := ac.call(t, "POST", "/admin/activities/phone-sale/topup?units=5", nil); code != 200 {
				t.Fatalf("topup: %d", code)
			}
			check("top-up", 2, stock.Counts{Loaded: 2, ToppedUp: 5, Total: 7, Left: 5, Sold: 2})

			if code := ac.call(t, "POST", "/admin/activities/phone-sale/release?user=alice&seq="+itoa(alice.Seq), nil); code != 200 {
				t.Fatalf("release: %d", code)
			}
			check("release", 2, stock.Counts{Loaded: 2, ToppedUp: 5, Total: 7, Left: 6, Sold: 1})

			// Reload with stock 10: the selling sale keeps what it holds.
			cfg, err := conf.Parse([]byte(strings.Replace(numbersYAML, "stock: 2", "stock: 10", 1)))
			if err != nil {
				t.Fatal(err)
			}
			cfg.Static.Catalogue = "testdata/catalogue.yaml"
			if _, err := ts.Reload(cfg); err != nil {
				t.Fatalf("reload: %v", err)
			}
			if backend == "redis" {
				// An operator's plain warm after the reload is refused too.
				if code := ac.call(t, "POST", "/admin/activities/phone-sale/warm", nil); code != 409 {
					t.Fatalf("warm of a selling sale with another stock: %d, want 409", code)
				}
			}
			check("reload", 10, stock.Counts{Loaded: 2, ToppedUp: 5, Total: 7, Left: 6, Sold: 1})

			if code := ac.call(t, "POST", "/admin/activities/phone-sale/warm?force=true", nil); code != 200 {
				t.Fatalf("forced warm: %d", code)
			}
			check("re-warm", 10, stock.Counts{Loaded: 10, Total: 10, Left: 10})
		})
	}
}

// TestAdminStockNotLoaded: a Redis activity nobody warmed has no numbers
// yet, and the admin API says so instead of showing -1.
func TestAdminStockNotLoaded(t *testing.T) {
	c := redistest.Client(t, redistest.Start(t).Addr())
	st, err := stock.NewRedis(stock.RedisOptions{Client: c, Prefix: "fg:", Timeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t, numbersYAML, Deps{Redis: c, Stock: st})
	ac := newAdminClient(t, ts, ts.deps, nil)
	var e struct{ Error string }
	if code := ac.call(t, "GET", "/admin/activities/phone-sale/stock", &e); code != 409 || e.Error != "not_loaded" {
		t.Errorf("stock of an unwarmed activity: %d %q, want 409 not_loaded", code, e.Error)
	}
	if code := ac.call(t, "POST", "/admin/activities/phone-sale/topup?units=1", &e); code != 409 || e.Error != "not_loaded" {
		t.Errorf("topup of an unwarmed activity: %d %q, want 409 not_loaded", code, e.Error)
	}
	var s struct{ Activities []statusActivity }
	ac.call(t, "GET", "/admin/status", &s)
	if len(s.Activities) != 1 || s.Activities[0].StockError != "not_loaded" || s.Activities[0].Counts != nil {
		t.Errorf("/admin/status = %+v, want stock_error not_loaded", s.Activities)
	}
}

// manualClock is a clock that moves only when told.
type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func itoa(n int64) string { return string(fasthttp.AppendUint(nil, int(n))) }

// TestAdminWarmAnswer: the warm answer tells a load from a no-op
// (already_loaded), as flashgate warm does; before, it said warmed:true
// either way.
func TestAdminWarmAnswer(t *testing.T) {
	type step struct {
		query   string
		already bool
	}
	for _, tc := range []struct {
		name  string
		store func(t *testing.T) Deps
		steps []step
	}{
		{"memory", func(t *testing.T) Deps { return Deps{} }, // warmed by the build
			[]step{{"", true}, {"?force=true", false}, {"?force=false", true}}},
		{"redis", func(t *testing.T) Deps {
			c := redistest.Client(t, redistest.Start(t).Addr())
			st, err := stock.NewRedis(stock.RedisOptions{Client: c, Prefix: "fg:", Timeout: 3 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			return Deps{Redis: c, Stock: st}
		}, []step{{"", false}, {"", true}, {"?force=1", false}, {"", true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t, numbersYAML, tc.store(t))
			ac := newAdminClient(t, ts, ts.deps, nil)
			for i, s := range tc.steps {
				var got struct {
					Warmed        bool `json:"warmed"`
					AlreadyLoaded bool `json:"already_loaded"`
					Stock         int64
				}
				if code := ac.call(t, "POST", "/admin/activities/phone-sale/warm"+s.query, &got); code != 200 ||
					!got.Warmed || got.AlreadyLoaded != s.already || got.Stock != 2 {
					t.Errorf("step %d warm%s: %d %+v, want 200 warmed, already_loaded %v", i, s.query, code, got, s.already)
				}
			}
		})
	}
}
