package redisconn

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/internal/redistest"
)

func redisConf(addrs ...string) conf.Redis {
	return conf.Redis{Addrs: addrs, Timeout: 100 * time.Millisecond, DialTimeout: time.Second}
}

// fastRetry makes the background dials of lazy clients made by t come
// every 100 ms at most, so a test waits for a reconnect briefly.
func fastRetry(t *testing.T) {
	old := lazyRetry
	lazyRetry.min, lazyRetry.max = 20*time.Millisecond, 100*time.Millisecond
	t.Cleanup(func() { lazyRetry = old })
}

// TestLazyConnectsOnceRedisAnswers: a serving process's client made while
// redis-server is down fails every call at once with ErrNotConnected (the
// dial's own error in its message), then connects by itself once the
// server is up on its address, and serves from then on, Lua scripts
// included; after Close its calls fail with ErrClosing.
func TestLazyConnectsOnceRedisAnswers(t *testing.T) {
	fastRetry(t)
	rs := redistest.Start(t)
	rs.Stop()
	c, down, err := openLazy(redisConf(rs.Addr()), nil, nil)
	if err != nil {
		t.Fatalf("openLazy with Redis down: %v, want a lazy client", err)
	}
	if down == nil || !strings.Contains(down.Error(), "connection refused") {
		t.Errorf("down = %v, want the dial's connection refused", down)
	}
	ctx := context.Background()
	start := time.Now()
	err = c.Do(ctx, c.B().Ping().Build()).Error()
	if !errors.Is(err, ErrNotConnected) || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("PING before the first connection: %v, want ErrNotConnected naming the dial's error", err)
	}
	if took := time.Since(start); took > 100*time.Millisecond { // no dial behind it: microseconds
		t.Errorf("a call before the first connection took %s, want an answer at once", took)
	}
	for _, r := range c.DoMulti(ctx, c.B().Ping().Build(), c.B().Get().Key("k").Build()) {
		if !errors.Is(r.Error(), ErrNotConnected) {
			t.Errorf("DoMulti before the first connection: %v, want ErrNotConnected", r.Error())
		}
	}
	if err := c.Receive(ctx, c.B().Subscribe().Channel("ch").Build(), func(rueidis.PubSubMessage) {}); !errors.Is(err, ErrNotConnected) {
		t.Errorf("Receive before the first connection: %v, want ErrNotConnected", err)
	}

	// A command built before the connection and sent after it goes out
	// right: the cluster builder's commands suit a standalone client.
	early := c.B().Set().Key("early").Value("1").Build()
	rs.Restart(t)
	deadline := time.Now().Add(15 * time.Second)
	for c.Do(ctx, c.B().Ping().Build()).Error() != nil {
		if time.Now().After(deadline) {
			t.Fatal("not connected 15 s after redis-server came up")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := c.Do(ctx, early).Error(); err != nil {
		t.Errorf("a command built before the connection: %v", err)
	}
	script := rueidis.NewLuaScript("return redis.call('INCR', KEYS[1])")
	if n, err := script.Exec(ctx, c, []string{"{t}n"}, nil).AsInt64(); err != nil || n != 1 {
		t.Errorf("a Lua script after the connection: %d, %v", n, err)
	}
	c.Close()
	if err := c.Do(ctx, c.B().Ping().Build()).Error(); !errors.Is(err, rueidis.ErrClosing) {
		t.Errorf("PING after Close: %v, want ErrClosing", err)
	}
}

// TestLazyClosedWhileDown: Close of a client that never connected stops
// its dials and returns; its calls then fail with ErrClosing.
func TestLazyClosedWhileDown(t *testing.T) {
	fastRetry(t)
	rs := redistest.Start(t)
	rs.Stop()
	c, _, err := openLazy(redisConf(rs.Addr()), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	c.Close() // idempotent
	if err := c.Do(context.Background(), c.B().Ping().Build()).Error(); !errors.Is(err, rueidis.ErrClosing) {
		t.Errorf("PING after Close: %v, want ErrClosing", err)
	}
}

// TestRefusedByRedisIsAnError: Redis answering with a refusal (here
// NOAUTH: a password is required and none is configured) is a setting to
// fix, not an outage to wait out: openLazy fails, as Open does.
func TestRefusedByRedisIsAnError(t *testing.T) {
	rs := redistest.Start(t)
	admin := redistest.Client(t, rs.Addr())
	if err := admin.Do(context.Background(), admin.B().ConfigSet().ParameterValue().ParameterValue("requirepass", "s3cret").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	c, _, err := openLazy(redisConf(rs.Addr()), nil, nil)
	if err == nil {
		c.Close()
		t.Fatal("openLazy without the required password made a client, want the refusal")
	}
	if unreachable(err) {
		t.Errorf("unreachable(%v) = true, want false: Redis answered", err)
	}
	if !strings.Contains(err.Error(), "set redis.password") {
		t.Errorf("refusal %q does not name the setting to fix", err)
	}
	ok := redisConf(rs.Addr())
	ok.Password = "s3cret"
	c, down, err := openLazy(ok, nil, nil)
	if err != nil || down != nil {
		t.Fatalf("openLazy with the password: %v, %v", down, err)
	}
	c.Close()
}

// TestClusterBuilderMatchesRueidis: the builder a lazy client hands out
// before connecting is exactly a rueidis cluster client's, and builds the
// cross-slot refusal a cluster client's does. It fails when a rueidis
// upgrade changes cmds.Builder (lazy connecting is then off: lazyBuilderOK).
func TestClusterBuilderMatchesRueidis(t *testing.T) {
	if !lazyBuilderOK {
		t.Fatal("rueidis.Builder is no longer one uint16: lazy connecting is off")
	}
	cl := redistest.StartCluster(t, 3)
	c := redistest.Client(t, cl.Addrs()...)
	if got, want := clusterBuilder, c.B(); !reflect.DeepEqual(got, want) {
		t.Fatalf("clusterBuilder = %#v, a cluster client's B() = %#v", got, want)
	}
	defer func() {
		if recover() == nil {
			t.Error("the cluster builder built a command across slots")
		}
	}()
	clusterBuilder.Mget().Key("a", "b").Build()
}
