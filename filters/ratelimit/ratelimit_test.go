package ratelimit

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flashgate/flashgate/gateway"
	"github.com/flashgate/flashgate/internal/filtertest"
)

// step is one request of a scenario: who asks, when, and what it gets.
type step struct {
	route string // env.Route of the entry that sees it; "" is "r1"
	ip    string
	user  string
	act   int           // activity index, -1 for none
	at    time.Duration // since t0
	want  string        // reason, "" for a pass
	retry string        // Retry-After of a rejection
}

func TestScopes(t *testing.T) {
	const a, b = "10.0.0.1", "10.0.0.2"
	tests := []struct {
		name  string
		cfg   Config
		steps []step
	}{
		{"global counts every route and client", Config{Scope: "global", Rate: 1, Burst: 2}, []step{
			{ip: a, act: -1},
			{route: "r2", ip: b, act: -1},
			{route: "r2", ip: b, act: -1, want: "rate_limited_global", retry: "1"},
			{ip: a, act: -1, at: time.Second},
		}},
		{"route counts one route", Config{Scope: "route", Rate: 1, Burst: 2}, []step{
			{ip: a, act: -1},
			{ip: b, act: -1},
			{ip: a, act: -1, want: "rate_limited_route", retry: "1"},
			{route: "r2", ip: a, act: -1},
			{ip: a, act: -1, at: 999 * time.Millisecond, want: "rate_limited_route", retry: "1"},
			{ip: a, act: -1, at: time.Second},
		}},
		{"ip counts each address", Config{Scope: "ip", Rate: 1, Burst: 2}, []step{
			{ip: a, act: -1},
			{ip: a, act: -1, user: "u1"},
			{ip: a, act: -1, want: "rate_limited_ip", retry: "1"},
			{ip: b, act: -1},
			{ip: "2001:db8::1", act: -1},
			{ip: "::ffff:10.0.0.9", act: -1},
		}},
		{"user counts each user, anonymous by ip", Config{Scope: "user", Rate: 1, Burst: 2}, []step{
			{ip: a, user: "u1", act: -1},
			{ip: b, user: "u1", act: -1},
			{ip: a, user: "u1", act: -1, want: "rate_limited_user", retry: "1"},
			{ip: a, user: "u2", act: -1},
			{ip: a, act: -1},
			{ip: a, act: -1},
			{ip: a, act: -1, want: "rate_limited_user", retry: "1"},
			{ip: b, act: -1},
			{ip: a, user: "u2", act: -1},
		}},
		{"item counts each activity", Config{Scope: "item", Rate: 1, Burst: 2}, []step{
			{ip: a, act: 0},
			{ip: b, user: "u", act: 0},
			{ip: a, act: 0, want: "rate_limited_item", retry: "1"},
			{ip: a, act: 1},
		}},
		{"retry after rounds up", Config{Scope: "ip", Rate: 0.1, Burst: 1}, []step{
			{ip: a, act: -1},
			{ip: a, act: -1, at: 500 * time.Millisecond, want: "rate_limited_ip", retry: "10"},
			{ip: a, act: -1, at: 9 * time.Second, want: "rate_limited_ip", retry: "1"},
			{ip: a, act: -1, at: 10 * time.Second},
		}},
		{"retry after is capped", Config{Scope: "ip", Rate: 0.001, Burst: 1}, []step{
			{ip: a, act: -1},
			{ip: a, act: -1, want: "rate_limited_ip", retry: "60"},
		}},
		{"burst defaults to rate", Config{Scope: "ip", Rate: 3}, []step{
			{ip: a, act: -1}, {ip: a, act: -1}, {ip: a, act: -1},
			{ip: a, act: -1, want: "rate_limited_ip", retry: "1"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			acts := filtertest.Numbered(2)
			base := newEnv("r1", acts) // routes of one instance share its Env state
			var at time.Duration
			base.Now = func() time.Time { return t0.Add(at) }
			byRoute := map[string]*filter{}
			for _, st := range tc.steps {
				route := st.route
				if route == "" {
					route = "r1"
				}
				f := byRoute[route]
				if f == nil {
					env := *base
					env.Route = route
					f = build(t, tc.cfg, &env)
					byRoute[route] = f
				}
				var act *gateway.Activity
				if st.act >= 0 {
					act = acts[st.act]
				}
				at = st.at // the limiter reads its clock, not r.Now
				reason, retry := outcome(t, f, filtertest.From(filtertest.Request(act, st.user, t0), st.ip))
				if reason != st.want || retry != st.retry {
					t.Fatalf("%+v: got %q retry %q, want %q retry %q", st, reason, retry, st.want, st.retry)
				}
			}
		})
	}
}

// Over a simulated 5 s of 1,000 requests/s against 200/s with burst 20,
// GCRA admits the burst at once and then one request per 5 ms. The clock
// moves on 1 ms per read (stepClock); the limiter reads it once when it
// is built and once per decision, so one worker decides at 1, 2, ...,
// 5,000 ms since the limiter's epoch: further admissions happen at 5, 10,
// ..., 4,995 ms after the first and the count is 20 + 999 = 1,019, rate ×
// the 4.999 s between first and last request plus the burst. Several
// workers racing on the bucket re-read the clock on a lost CAS, so the
// simulated span is the clock's and the count is checked within ±2%.
func TestLocalRateSimulated(t *testing.T) {
	const rate, burst, perSec, secs = 200, 20, 1000, 5
	for _, workers := range []int{1, 4} {
		clk := &stepClock{step: time.Second / perSec}
		env := newEnv("r", nil)
		env.Now = clk.Now
		f := build(t, Config{Scope: "ip", Rate: rate, Burst: burst}, env)
		var admitted atomic.Int64
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := filtertest.From(filtertest.Request(nil, "", t0), "10.1.1.1")
				for k := w; k < perSec*secs; k += workers {
					if v, _ := f.Handle(r); v.Action == gateway.Continue {
						admitted.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		got := float64(admitted.Load())
		want := rate*(clk.elapsed()-2*clk.step).Seconds() + burst // span of the decisions
		if got < want*0.98 || got > want*1.02 {
			t.Errorf("%d workers: admitted %v of %d, want %v ±2%%", workers, got, perSec*secs, want)
		}
		if exact := float64(burst + (perSec*secs-1)/(perSec/rate)); workers == 1 && got != exact {
			t.Errorf("one worker: admitted %v, want exactly %v", got, exact)
		}
		t.Logf("%d workers: admitted %v, want %v", workers, got, want)
	}
}

func TestRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		wait time.Duration
		want int
	}{{time.Nanosecond, 1}, {time.Second, 1}, {time.Second + 1, 2}, {59500 * time.Millisecond, 60}, {time.Hour, 60}} {
		if got := retryAfter(int64(tc.wait)); got != tc.want {
			t.Errorf("retryAfter(%s) = %d, want %d", tc.wait, got, tc.want)
		}
	}
}

// A shard at its cap drops its oldest key; the janitor drops full
// buckets, keeps limited ones, and a request racing an eviction retries.
func TestKeyStoreBounds(t *testing.T) {
	ks := newKeyStore(1) // one shard, one key
	ks.limit = 3
	g := newGCRA(1, 1)
	c := newClock(func() time.Time { return t0 })
	now := c.read()
	for _, k := range []string{"k1", "k2", "k3"} {
		if w := ks.take([]byte(k), g, c); w != 0 {
			t.Fatalf("%s: first request waits %d", k, w)
		}
	}
	old := ks.lookup([]byte("k1"))
	ks.take([]byte("k4"), g, c)
	if ks.lookup([]byte("k1")) != nil || ks.len() != 3 {
		t.Fatalf("k1 not evicted at the cap: len %d", ks.len())
	}
	if _, retry := g.take(&old.v, c); !retry {
		t.Fatal("a request holding an evicted slot does not retry")
	}
	if w := ks.take([]byte("k1"), g, c); w != 0 {
		t.Fatal("an evicted key does not start with a full bucket")
	}
	// k2 was evicted to make room for k1; k3 and k4 are limited until
	// now+1s, k1 too.
	if kept := ks.sweep(now + int64(500*time.Millisecond)); kept != 3 {
		t.Fatalf("sweep before the buckets refill kept %d, want 3", kept)
	}
	if kept := ks.sweep(now + int64(time.Second)); kept != 0 {
		t.Fatalf("sweep after they refill kept %d, want 0", kept)
	}
	if len(ks.shards[0].order) != 0 {
		t.Fatalf("order keeps %d stale keys", len(ks.shards[0].order))
	}
}

func TestMaxKeys(t *testing.T) {
	f := build(t, Config{Scope: "ip", Rate: 1, MaxKeys: 100}, newEnv("r", nil))
	r := filtertest.From(filtertest.Request(nil, "", t0), "10.0.0.1")
	for i := range 1000 {
		r.IP = r.IP.Next()
		if reason, _ := outcome(t, f, r); reason != "" {
			t.Fatalf("request %d from a new address rejected", i)
		}
	}
	// 64 shards of ceil(100/64) = 2 keys: never more than 128.
	if n := f.l.local.keys.len(); n > 128 || n < 64 {
		t.Fatalf("%d keys held with max_keys 100", n)
	}
}

func TestJanitorStops(t *testing.T) {
	f := build(t, Config{Scope: "user", Rate: 1}, newEnv("r", nil))
	done := make(chan struct{})
	go func() { f.l.Close(); f.l.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not stop the janitor")
	}
}

// FuzzLocalKey checks that keys of distinct users never collide with one
// another or with an address, whatever bytes the identity filter allowed.
func FuzzLocalKey(f *testing.F) {
	f.Add([]byte("u1"), []byte("u2"))
	f.Add([]byte(""), []byte("i"))
	f.Add([]byte("\x00"), []byte{})
	f.Fuzz(func(t *testing.T, u1, u2 []byte) {
		r1 := filtertest.From(filtertest.Request(nil, "", t0), "10.0.0.1")
		r2 := filtertest.From(filtertest.Request(nil, "", t0), "10.0.0.1")
		r1.SetUser(u1)
		r2.SetUser(u2)
		k1 := string(localKey(scopeUser, r1, nil))
		k2 := string(localKey(scopeUser, r2, nil))
		if (k1 == k2) != (string(u1) == string(u2)) {
			t.Fatalf("users %q and %q: keys %q and %q", u1, u2, k1, k2)
		}
		rk := string(redisKey([]byte("fg:rl:{"), scopeUser, r1, "}:r", nil))
		if len(u1) > 0 && rk != "fg:rl:{user:"+string(u1)+"}:r" {
			t.Fatalf("redis key %q", rk)
		}
		if len(u1) == 0 && rk != "fg:rl:{user-ip:10.0.0.1}:r" {
			t.Fatalf("anonymous redis key %q", rk)
		}
	})
}

// TestIPv6CountedBySlash64: addresses of one /64 share a bucket.
func TestIPv6CountedBySlash64(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{"2001:db8:1:2::1", "2001:db8:1:2:ffff::9", true},
		{"2001:db8:1:2::1", "2001:db8:1:3::1", false},
		{"10.0.0.1", "10.0.0.2", false},
		{"::ffff:10.0.0.1", "::ffff:10.0.0.2", false},
	} {
		if got := limitAddr(netip.MustParseAddr(tc.a)) == limitAddr(netip.MustParseAddr(tc.b)); got != tc.same {
			t.Errorf("%s vs %s: same bucket %v, want %v", tc.a, tc.b, got, tc.same)
		}
	}
}
