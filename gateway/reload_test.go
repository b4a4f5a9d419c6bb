package gateway

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/internal/redistest"
	"github.com/flashgate/flashgate/stock"
)

func parse(t *testing.T, yaml string) *conf.Config {
	t.Helper()
	cfg, err := conf.Parse([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Static.Catalogue = "testdata/catalogue.yaml"
	return cfg
}

// TestPinStartup: every start-up setting a file changes is listed and
// keeps its running value; the settings a reload applies are taken from
// the file and not listed.
func TestPinStartup(t *testing.T) {
	running := parse(t, "server: {listen: '127.0.0.1:8080', tls: {cert_file: a.pem, key_file: a.key}}\nredis: {addrs: ['127.0.0.1:6379']}\n"+baseYAML)
	tests := []struct {
		name    string
		yaml    string
		listed  []string
		applied func(c *conf.Config) bool
	}{
		{"nothing changed", "", nil, func(*conf.Config) bool { return true }},
		{"listen and timeouts", "server: {listen: '127.0.0.1:9090', read_timeout: 1s, max_inflight: 3, tls: {cert_file: a.pem, key_file: a.key}}",
			[]string{"server.listen", "server.read_timeout", "server.max_inflight"},
			func(c *conf.Config) bool {
				return c.Server.Listen == "127.0.0.1:8080" && c.Server.ReadTimeout == 5*time.Second
			}},
		{"applied live: real IP header, retry_after, certificate files", "server: {real_ip_header: X-Real-IP, retry_after: 7, tls: {cert_file: b.pem, key_file: b.key}}",
			nil, func(c *conf.Config) bool {
				return c.Server.RealIPHeader == "X-Real-IP" && c.Server.RetryAfter == 7 && c.Server.TLS.CertFile == "b.pem"
			}},
		{"TLS turned off", "server: {listen: '127.0.0.1:8080'}", []string{"server.tls.cert_file", "server.tls.key_file"},
			func(c *conf.Config) bool { return c.Server.TLS.CertFile == "a.pem" }},
		{"redis, without its values", "redis: {addrs: ['127.0.0.1:6380'], password: s3cret}", []string{"redis.addrs", "redis.password"},
			func(c *conf.Config) bool { return c.Redis.Addrs[0] == "127.0.0.1:6379" && c.Redis.Password == "" }},
		{"stock store, log, admin, reload", "stock: {store: redis}\nlog: {level: debug}\nadmin: {listen: '127.0.0.1:9', token: 0123456789abcdef}\nreload: {watch: true}",
			[]string{"admin.listen", "admin.token", "reload.watch", "log.level", "stock.store"},
			func(c *conf.Config) bool {
				return c.Stock.Store == "memory" && c.Log.Level == "info" && c.Admin.Listen == "" && !c.Reload.Watch
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			y := tc.yaml
			if !strings.Contains(y, "server:") {
				y += "\nserver: {listen: '127.0.0.1:8080', tls: {cert_file: a.pem, key_file: a.key}}"
			}
			if !strings.Contains(y, "redis:") {
				y += "\nredis: {addrs: ['127.0.0.1:6379']}"
			}
			next := parse(t, y+"\n"+baseYAML)
			pinned, na := pinStartup(running, next)
			var got []string
			for _, n := range na {
				got = append(got, n.Setting)
				if strings.Contains(n.Reason, "s3cret") {
					t.Errorf("a value in the report: %v", n)
				}
			}
			if strings.Join(got, " ") != strings.Join(tc.listed, " ") {
				t.Errorf("listed %q, want %q", got, tc.listed)
			}
			if !tc.applied(pinned) {
				t.Errorf("pinned config wrong: %+v", pinned)
			}
		})
	}
}

// closeCounter counts Close calls.
type closeCounter struct{ n int }

func (c *closeCounter) Close() error { c.n++; return nil }

// TestKeptSharedValues: a kept value is taken over by the next table when
// its fingerprint is equal, closed once by the last table holding it, and
// rebuilt when the fingerprint changes; shared (not kept) values are never carried.
func TestKeptSharedValues(t *testing.T) {
	k, p := NewSharedKey[*closeCounter]("k"), NewSharedKey[*closeCounter]("p")
	old := newShared()
	v1 := &closeCounter{}
	env := &Env{shared: old}
	if _, err := Keep(env, k, 1, func() (*closeCounter, error) { return v1, nil }); err != nil {
		t.Fatal(err)
	}
	plain := &closeCounter{}
	_, _ = Share(env, p, func() (*closeCounter, error) { return plain, nil })

	next := newShared()
	next.prev = old
	env2 := &Env{shared: next}
	got, _ := Keep(env2, k, 1, func() (*closeCounter, error) { return &closeCounter{}, nil })
	if got != v1 {
		t.Fatal("an equal fingerprint did not keep the value")
	}
	got, _ = Share(env2, p, func() (*closeCounter, error) { return &closeCounter{}, nil })
	if got == plain {
		t.Fatal("a Shared value was carried over")
	}
	old.close() // the old instance's grace ends
	if v1.n != 0 || plain.n != 1 {
		t.Fatalf("after the old table closed: kept closed %d times, plain %d", v1.n, plain.n)
	}
	newer := newShared()
	newer.prev = next
	env3 := &Env{shared: newer}
	v3 := &closeCounter{}
	got, _ = Keep(env3, k, 2, func() (*closeCounter, error) { return v3, nil })
	if got != v3 {
		t.Fatal("a changed fingerprint kept the old value")
	}
	next.close()
	if v1.n != 1 {
		t.Fatalf("the last holder closed: kept closed %d times, want 1", v1.n)
	}
	newer.close()
	if v3.n != 1 {
		t.Fatalf("v3 closed %d times", v3.n)
	}
}

// TestFailedBuildReturnsKept: a build that fails after taking over a kept
// value gives it back: the running table still holds it, open.
func TestFailedBuildReturnsKept(t *testing.T) {
	k := NewSharedKey[*closeCounter]("k")
	old := newShared()
	v := &closeCounter{}
	_, _ = Keep(&Env{shared: old}, k, "fp", func() (*closeCounter, error) { return v, nil })
	next := newShared()
	next.prev = old
	_, _ = Keep(&Env{shared: next}, k, "fp", func() (*closeCounter, error) { return nil, errors.New("not built") })
	next.close() // the failed build's cleanup
	if v.n != 0 {
		t.Fatal("a failed build closed the running instance's value")
	}
	old.close()
	if v.n != 1 {
		t.Fatalf("closed %d times, want 1", v.n)
	}
}

// TestReloadAppliesRetryAfter: server.retry_after applies on reload: the
// busy page of shedding is the new instance's.
func TestReloadAppliesRetryAfter(t *testing.T) {
	ts := newTestServer(t, "server: {max_inflight: 1}\n"+baseYAML, Deps{})
	rep, err := ts.Reload(parse(t, "server: {max_inflight: 1, retry_after: 4}\n"+baseYAML))
	if err != nil || len(rep.NotApplied) != 0 {
		t.Fatalf("reload: %v %v", rep, err)
	}
	ts.inflight.Add(1)
	r := ts.do(t, "GET", "/p/phone-x")
	ts.inflight.Add(-1)
	if r.StatusCode() != 503 || string(r.Header.Peek("Retry-After")) != "4" {
		t.Fatalf("shed after reload: %d Retry-After %q", r.StatusCode(), r.Header.Peek("Retry-After"))
	}
}

// TestReloadKeepsSoldOut: the stock store, with what it knows is sold
// out, outlives a reload, and the new instance answers from it.
func TestReloadKeepsSoldOut(t *testing.T) {
	ts := newTestServer(t, baseYAML, Deps{})
	for _, u := range []string{"a", "b", "c", "d"} {
		_, _ = ts.deps.Stock.Take(bgCtx(), "phone-sale", []byte(u))
	}
	if !ts.deps.Stock.SoldOut("phone-sale") {
		t.Fatal("not sold out before the reload")
	}
	if _, err := ts.Reload(parse(t, baseYAML)); err != nil {
		t.Fatal(err)
	}
	if !ts.deps.Stock.SoldOut("phone-sale") {
		t.Fatal("a reload forgot the sold-out activity")
	}
	r := ts.do(t, "GET", "/api/activities/phone-sale/status")
	if !strings.Contains(string(r.Body()), `"stock_left":0`) || !strings.Contains(string(r.Body()), `"sold_out":true`) {
		t.Fatalf("status after reload: %s", r.Body())
	}
}

// TestSharedKeysTyped: keys of different types never collide, and Shared
// reads the table as the build froze it.
func TestSharedKeysTyped(t *testing.T) {
	env := NewEnv()
	ik, sk := NewSharedKey[*int]("x"), NewSharedKey[*string]("x")
	n, s := 7, "seven"
	if _, err := Share(env, ik, func() (*int, error) { return &n, nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := Share(env, sk, func() (*string, error) { return &s, nil }); err != nil {
		t.Fatal(err)
	}
	if got, _ := Share(env, ik.With("a"), func() (*int, error) { return new(int), nil }); got == &n {
		t.Fatal("With gave the same key")
	}
	in := &Instance{plan: env.shared.freeze()}
	if got, ok := Shared(in, ik); !ok || got != &n {
		t.Fatalf("Shared int: %v %v", got, ok)
	}
	if got, ok := Shared(in, sk); !ok || got != &s {
		t.Fatalf("Shared string: %v %v", got, ok)
	}
	if _, ok := Shared(in, NewSharedKey[*int]("y")); ok {
		t.Fatal("an unknown key was found")
	}
	if _, ok := Shared[*int](nil, ik); ok {
		t.Fatal("a nil instance holds values")
	}
}

// TestReloadReportsSharedStoreSales: on a shared store, which a reload
// never warms, a stock, shards or per_user in the file that differs from
// the loaded sale is listed in not_applied with the loaded numbers, on
// every reload until a forced warm loads the file's (before, only the
// reload that changed the file said so, and the same file again said
// nothing while the store still ran the old sale); the setting names what
// differs, with the file's value. An activity never warmed is listed as
// not loaded.
func TestReloadReportsSharedStoreSales(t *testing.T) {
	st := stock.NewMemory()
	if err := st.Warm(bgCtx(), stock.Spec{Activity: "phone-sale", Stock: 3, Shards: 2, PerUser: 1}, false); err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t, baseYAML, Deps{Stock: st}) // not AutoWarm: as with Redis
	more := strings.Replace(baseYAML, "stock: 3, shards: 2", "stock: 5, shards: 2", 1)
	if more == baseYAML {
		t.Fatal("baseYAML changed: update the test")
	}
	const setting = "activities[0] (phone-sale): stock (file 5)"
	for _, try := range []string{"reload with a new stock", "the same file again"} {
		rep, err := ts.Reload(parse(t, more))
		if err != nil || len(rep.NotApplied) != 1 || rep.NotApplied[0].Setting != setting ||
			!strings.Contains(rep.NotApplied[0].Reason, "(stock 3, shards 2, per_user 1)") ||
			!strings.Contains(rep.NotApplied[0].Reason, "warm?force=true") {
			t.Fatalf("%s: %+v %v", try, rep, err)
		}
	}
	if err := st.Warm(bgCtx(), stock.Spec{Activity: "phone-sale", Stock: 5, Shards: 2, PerUser: 1}, true); err != nil {
		t.Fatal(err)
	}
	if rep, err := ts.Reload(parse(t, more)); err != nil || len(rep.NotApplied) != 0 {
		t.Fatalf("after the forced warm: %+v %v", rep, err)
	}
	if rep, err := ts.Reload(parse(t, baseYAML)); err != nil || len(rep.NotApplied) != 1 ||
		!strings.Contains(rep.NotApplied[0].Reason, "(stock 5, shards 2, per_user 1)") {
		t.Fatalf("back to stock 3: %+v %v", rep, err)
	}
	// A new activity nobody warmed: its purchases would be refused.
	added := strings.Replace(baseYAML, "activities:\n", "activities:\n  - {id: new-sale, product: phone-x, stock: 2}\n", 1)
	if added == baseYAML {
		t.Fatal("baseYAML's activities changed: update the test")
	}
	rep, err := ts.Reload(parse(t, added))
	if err != nil || len(rep.NotLoaded) != 1 || rep.NotLoaded[0] != "new-sale" || len(rep.NotApplied) != 1 {
		t.Fatalf("reload adding an activity never warmed: %+v %v; want it in not_loaded, not in not_applied", rep, err)
	}
}

// TestReloadSharedStoreUnreachable: when Redis cannot say what is loaded,
// a reload still answers (within changedSalesTimeout) and lists the
// activities the file changed, from the previous file.
func TestReloadSharedStoreUnreachable(t *testing.T) {
	srv := redistest.Start(t)
	c := redistest.Client(t, srv.Addr())
	st, err := stock.NewRedis(stock.RedisOptions{Client: c, Prefix: "fg:", Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Warm(bgCtx(), stock.Spec{Activity: "phone-sale", Stock: 3, Shards: 2, PerUser: 1}, false); err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t, baseYAML, Deps{Redis: c, Stock: st})
	more := strings.Replace(baseYAML, "stock: 3, shards: 2", "stock: 5, shards: 2", 1)
	if rep, err := ts.Reload(parse(t, more)); err != nil || len(rep.NotApplied) != 1 ||
		!strings.Contains(rep.NotApplied[0].Reason, "(stock 3, shards 2, per_user 1)") {
		t.Fatalf("store up: %+v %v", rep, err)
	}
	srv.Stop()
	start := time.Now()
	rep, err := ts.Reload(parse(t, baseYAML))
	if err != nil || len(rep.NotApplied) != 1 || !strings.Contains(rep.NotApplied[0].Reason, "could not be read, and the previous file had stock 5, shards 2, per_user 1") {
		t.Fatalf("store down, file back to stock 3: %+v %v", rep, err)
	}
	if took := time.Since(start); took > changedSalesTimeout+3*time.Second {
		t.Fatalf("reload with Redis down took %v", took)
	}
}
