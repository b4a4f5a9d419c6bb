package stock

import (
	"context"
	"errors"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/flashgate/flashgate/internal/redistest"
)

// topo is a backend a test runs against.
type topo int

const (
	memTopo topo = iota
	standaloneTopo
	clusterTopo
)

func (tp topo) String() string { return [...]string{"memory", "redis", "redis-cluster"}[tp] }

var allTopos = []topo{memTopo, standaloneTopo, clusterTopo}

// open starts a fresh backend of kind tp and returns a store on it, plus,
// for Redis, a function opening another instance (another client) on the
// same Redis, as a second gateway would.
func open(t *testing.T, tp topo) (Store, func() *RedisStore) {
	t.Helper()
	var addrs []string
	switch tp {
	case memTopo:
		return NewMemory(), nil
	case standaloneTopo:
		addrs = []string{redistest.Start(t).Addr()}
	case clusterTopo:
		addrs = redistest.StartCluster(t, 3).Addrs()
	}
	another := func() *RedisStore { return newRedisStore(t, newClient(t, addrs...), nil) }
	return another(), another
}

func newClient(t testing.TB, addrs ...string) rueidis.Client {
	t.Helper()
	c, err := rueidis.NewClient(rueidis.ClientOption{
		InitAddress:      addrs,
		DisableCache:     true,
		ConnWriteTimeout: 2 * time.Second,
		Dialer:           net.Dialer{Timeout: time.Second},
	})
	if err != nil {
		t.Fatalf("rueidis.NewClient(%v): %v", addrs, err)
	}
	t.Cleanup(c.Close)
	return c
}

func newRedisStore(t testing.TB, c rueidis.Client, edit func(*RedisOptions)) *RedisStore {
	t.Helper()
	o := RedisOptions{Client: c, Prefix: "fg:", Timeout: 3 * time.Second} // generous: the shared CI machine is slow; failure tests set their own
	if edit != nil {
		edit(&o)
	}
	s, err := NewRedis(o)
	if err != nil {
		t.Fatalf("NewRedis: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s.(*RedisStore)
}

// testCtx bounds a whole test body.
func testCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func mustWarm(t testing.TB, s Store, spec Spec, force bool) {
	t.Helper()
	if err := s.Warm(testCtx(t, 10*time.Second), spec, force); err != nil {
		t.Fatalf("Warm(%+v, %v): %v", spec, force, err)
	}
}

func mustTake(t testing.TB, s Store, activity, user string, want Result) Decision {
	t.Helper()
	d, err := s.Take(testCtx(t, 5*time.Second), activity, []byte(user))
	if err != nil {
		t.Fatalf("Take(%s, %s): %v", activity, user, err)
	}
	if d.Result != want {
		t.Fatalf("Take(%s, %s) = %v, want %v", activity, user, d.Result, want)
	}
	return d
}

func mustLeft(t testing.TB, s Store, activity string, want int64) {
	t.Helper()
	got, err := s.Left(testCtx(t, 5*time.Second), activity)
	if err != nil || got != want {
		t.Fatalf("Left(%s) = %d, %v; want %d", activity, got, err, want)
	}
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, within time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > within {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}

// usersHomedAt returns n user names whose home shard is shard of shards.
func usersHomedAt(n, shard, shards int) []string {
	var out []string
	for i := 0; len(out) < n; i++ {
		u := "user-" + strconv.Itoa(i)
		if homeShard([]byte(u), shards) == shard {
			out = append(out, u)
		}
	}
	return out
}

func isUnavailable(err error) bool { return errors.Is(err, ErrUnavailable) }

// newSingleClient talks to one node only, bypassing cluster routing.
func newSingleClient(t testing.TB, addr string) rueidis.Client {
	t.Helper()
	c, err := rueidis.NewClient(rueidis.ClientOption{
		InitAddress:       []string{addr},
		DisableCache:      true,
		ForceSingleClient: true,
		ConnWriteTimeout:  2 * time.Second,
		Dialer:            net.Dialer{Timeout: time.Second},
	})
	if err != nil {
		t.Fatalf("rueidis.NewClient(%s): %v", addr, err)
	}
	t.Cleanup(c.Close)
	return c
}
