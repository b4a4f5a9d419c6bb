package redisconn

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/internal/redistest"
)

func open(t testing.TB, addr string) rueidis.Client {
	t.Helper()
	c, err := Open(conf.Redis{Addrs: []string{addr}, Timeout: 100 * time.Millisecond, DialTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// TestCallsWaitNoLongerThanTheirCtx is the root cause of a frozen Redis
// costing dial_timeout: with redis-server stopped, callers with a long
// deadline (as background loops have) keep redialling the connection that
// short calls (as requests make) need. Every short call still returns
// within its own deadline plus scheduling slack, never after the 1 s a
// long caller's dial takes. The bound is twice the call's timeout plus
// 200 ms: room for -race on 2 cores, not a performance figure.
func TestCallsWaitNoLongerThanTheirCtx(t *testing.T) {
	rs := redistest.Start(t)
	c := open(t, rs.Addr())
	ctx := context.Background()
	if err := c.Do(ctx, c.B().Ping().Build()).Error(); err != nil {
		t.Fatal(err)
	}
	rs.Pause()
	defer rs.Resume()

	const short = 50 * time.Millisecond
	limit := 2*short + 200*time.Millisecond
	// 4 s: the frozen connection breaks after ConnWriteTimeout (1.1 s) and
	// is redialled, by long or short callers, about three times.
	end := time.Now().Add(4 * time.Second)
	var wg sync.WaitGroup
	for range 4 { // the background loops: a 3 s deadline, as long as a dial may take
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) {
				lctx, cancel := context.WithTimeout(ctx, 3*time.Second)
				_ = c.Do(lctx, c.B().Ping().Build()).Error()
				cancel()
			}
		}()
	}
	var slowest time.Duration
	var calls, slow int
	for time.Now().Before(end) {
		sctx, cancel := context.WithTimeout(ctx, short)
		start := time.Now()
		err := c.Do(sctx, c.B().Ping().Build()).Error()
		took := time.Since(start)
		cancel()
		calls++
		if err == nil {
			t.Fatal("a frozen Redis answered")
		}
		if took > limit {
			slow++
		}
		slowest = max(slowest, took)
	}
	wg.Wait()
	t.Logf("%d calls bounded at %s, slowest %s", calls, short, slowest)
	if slow > 0 {
		t.Errorf("%d of %d calls bounded at %s took more than %s (slowest %s)", slow, calls, short, limit, slowest)
	}
}

// TestBoundedResults: results, Redis errors and nil replies come through
// as rueidis gives them, for Do, DoMulti and scripts, with and without a
// deadline.
func TestBoundedResults(t *testing.T) {
	rs := redistest.Start(t)
	c := open(t, rs.Addr())
	script := rueidis.NewLuaScript("return redis.call('INCRBY', KEYS[1], ARGV[1])")
	for _, tc := range []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
	}{
		{"deadline", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 5*time.Second)
		}},
		{"cancel only", func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }},
		{"background", func() (context.Context, context.CancelFunc) { return context.Background(), func() {} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := tc.ctx()
			defer cancel()
			key := "bound:" + tc.name
			if err := c.Do(ctx, c.B().Set().Key(key).Value("7").Build()).Error(); err != nil {
				t.Fatal(err)
			}
			if v, err := c.Do(ctx, c.B().Get().Key(key).Build()).ToString(); err != nil || v != "7" {
				t.Fatalf("GET: %q %v", v, err)
			}
			if err := c.Do(ctx, c.B().Get().Key(key+":absent").Build()).Error(); !rueidis.IsRedisNil(err) {
				t.Fatalf("GET of a missing key: %v, want redis nil", err)
			}
			if err := c.Do(ctx, c.B().Lpush().Key(key).Element("x").Build()).Error(); err == nil || !isRedisErr(err) {
				t.Fatalf("LPUSH on a string: %v, want WRONGTYPE", err)
			}
			res := c.DoMulti(ctx, c.B().Incr().Key(key).Build(), c.B().Get().Key(key).Build())
			if n, err := res[0].AsInt64(); err != nil || n != 8 {
				t.Fatalf("INCR: %d %v", n, err)
			}
			if v, err := res[1].ToString(); err != nil || v != "8" {
				t.Fatalf("GET after INCR: %q %v", v, err)
			}
			if n, err := script.Exec(ctx, c, []string{key}, []string{"2"}).AsInt64(); err != nil || n != 10 {
				t.Fatalf("script: %d %v", n, err)
			}
			multi := script.ExecMulti(ctx, c, rueidis.LuaExec{Keys: []string{key}, Args: []string{"1"}},
				rueidis.LuaExec{Keys: []string{key}, Args: []string{"1"}})
			if n, err := multi[1].AsInt64(); err != nil || n != 12 {
				t.Fatalf("ExecMulti: %d %v", n, err)
			}
		})
	}
}

func isRedisErr(err error) bool {
	_, ok := rueidis.IsRedisErr(err)
	return ok
}

// TestBoundSheds: with maxWaiting calls in flight on a frozen Redis, the
// next call fails at once with ErrTooManyWaiting instead of adding a
// goroutine; once those calls end, calls are admitted again. A call whose
// ctx is already done fails with ctx's error and sends nothing.
func TestBoundSheds(t *testing.T) {
	rs := redistest.Start(t)
	raw := redistest.Client(t, rs.Addr())
	c := Bound(raw, time.Second, 2)
	ctx := context.Background()
	if err := c.Do(ctx, c.B().Ping().Build()).Error(); err != nil {
		t.Fatal(err)
	}
	rs.Pause()
	resumed := false
	defer func() {
		if !resumed {
			rs.Resume()
		}
	}()
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			wctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
			defer cancel()
			errs <- c.Do(wctx, c.B().Ping().Build()).Error()
		}()
	}
	b := c.(*bounded)
	deadline := time.Now().Add(5 * time.Second)
	for b.inflight.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := b.inflight.Load(); n != 2 {
		t.Fatalf("%d calls in flight, want 2", n)
	}
	sctx, cancel := context.WithTimeout(ctx, time.Second) // short enough to be bounded
	start := time.Now()
	err := c.Do(sctx, c.B().Ping().Build()).Error()
	res := c.DoMulti(sctx, c.B().Ping().Build(), c.B().Ping().Build())
	cancel()
	if !errors.Is(err, ErrTooManyWaiting) {
		t.Fatalf("third call: %v, want ErrTooManyWaiting", err)
	}
	for i, r := range res {
		if !errors.Is(r.Error(), ErrTooManyWaiting) {
			t.Fatalf("DoMulti result %d: %v, want ErrTooManyWaiting", i, r.Error())
		}
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("refusing took %s; it must not wait", took)
	}
	for range 2 {
		if err := <-errs; err == nil {
			t.Fatal("a frozen Redis answered")
		}
	}
	rs.Resume()
	resumed = true
	done, cancel := context.WithCancel(ctx)
	cancel()
	if err := c.Do(done, c.B().Ping().Build()).Error(); !errors.Is(err, context.Canceled) {
		t.Fatalf("call with a done ctx: %v", err)
	}
	waitCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		err := c.Do(waitCtx, c.B().Ping().Build()).Error()
		if err == nil {
			break
		}
		if waitCtx.Err() != nil {
			t.Fatalf("Redis back, calls still fail: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := b.inflight.Load(); n != 0 {
		t.Fatalf("%d calls in flight after they all returned", n)
	}
}

// TestDirect: only a call that a dial could keep past its ctx pays for a
// goroutine; one that cannot be cancelled, or whose deadline is further
// than a whole dial (connect plus HELLO, each up to dial_timeout), goes
// straight to rueidis.
func TestDirect(t *testing.T) {
	b := Bound(nil, time.Second, 0).(*bounded)
	cancelled, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, tc := range []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		want bool
	}{
		{"background", func() (context.Context, context.CancelFunc) { return context.Background(), func() {} }, true},
		{"cancel only", func() (context.Context, context.CancelFunc) { return cancelled, func() {} }, false},
		{"request timeout", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 100*time.Millisecond)
		}, false},
		{"shorter than a dial", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 1500*time.Millisecond)
		}, false},
		{"settle timeout", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 30*time.Second)
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := tc.ctx()
			defer cancel()
			if got := b.direct(ctx); got != tc.want {
				t.Fatalf("direct = %v, want %v", got, tc.want)
			}
		})
	}
	if b.max != DefaultMaxWaiting {
		t.Fatalf("maxWaiting 0 gives %d, want DefaultMaxWaiting", b.max)
	}
}
