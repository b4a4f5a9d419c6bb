package redistest_test

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/flashgate/flashgate/internal/redistest"
)

func newClient(t *testing.T, single bool, addrs ...string) rueidis.Client {
	t.Helper()
	c, err := rueidis.NewClient(rueidis.ClientOption{
		InitAddress:       addrs,
		DisableCache:      true,
		ForceSingleClient: single,
		ConnWriteTimeout:  2 * time.Second,
	})
	if err != nil {
		t.Fatalf("rueidis.NewClient(%v): %v", addrs, err)
	}
	t.Cleanup(c.Close)
	return c
}

// ctx bounds one Redis call, so a broken server fails the test instead
// of hanging it.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestBinary(t *testing.T) {
	bin, err := redistest.Binary()
	if err != nil {
		t.Fatal(err)
	}
	cli, err := redistest.CLI()
	if err != nil || !strings.HasSuffix(cli, "/redis-cli") {
		t.Fatalf("CLI() = %q, %v", cli, err)
	}
	t.Logf("redis-server at %s", bin)
}

func TestStandaloneKillRestart(t *testing.T) {
	s := redistest.Start(t)
	if !strings.HasPrefix(s.Addr(), "127.0.0.1:") {
		t.Fatalf("Addr() = %q, want 127.0.0.1:port", s.Addr())
	}
	c := newClient(t, false, s.Addr())
	if err := c.Do(ctx(t), c.B().Set().Key("k").Value("v").Build()).Error(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	if v, err := c.Do(ctx(t), c.B().Get().Key("k").Build()).ToString(); err != nil || v != "v" {
		t.Fatalf("GET = %q, %v; want v", v, err)
	}

	s.Kill()
	if err := c.Do(ctx(t), c.B().Ping().Build()).Error(); err == nil {
		t.Fatal("PING succeeded against a killed server")
	}

	s.Restart(t)
	// Persistence is off: a crash loses everything, as the tests that use
	// Kill expect.
	err := c.Do(ctx(t), c.B().Get().Key("k").Build()).Error()
	if !rueidis.IsRedisNil(err) {
		t.Fatalf("GET after restart: err = %v, want redis nil", err)
	}
	// rueidis multiplexes several connections; each one that was open at
	// the crash fails once (EOF) before it is redialled, and it does not
	// retry writes. Code under test sees the same.
	eventually(t, func() error {
		return c.Do(ctx(t), c.B().Set().Key("k").Value("w").Build()).Error()
	})
}

// eventually retries f for up to 5 s, for the one error per stale
// connection a client returns after its server restarted.
func eventually(t *testing.T, f func() error) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still failing after 5s: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestStopRestart(t *testing.T) {
	s := redistest.Start(t)
	addr := s.Addr()
	s.Stop()
	s.Stop() // a second Stop is a no-op
	if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		conn.Close()
		t.Fatalf("%s still accepts connections after Stop", addr)
	}
	s.Restart(t)
	if s.Addr() != addr {
		t.Fatalf("Restart moved the server from %s to %s", addr, s.Addr())
	}
	c := newClient(t, true, addr)
	if err := c.Do(ctx(t), c.B().Ping().Build()).Error(); err != nil {
		t.Fatalf("PING after restart: %v", err)
	}
}

func TestCluster(t *testing.T) {
	start := time.Now()
	cl := redistest.StartCluster(t, 3)
	t.Logf("StartCluster(3) took %s", time.Since(start))

	addrs := cl.Addrs()
	if len(addrs) != 3 {
		t.Fatalf("Addrs() = %v, want 3", addrs)
	}
	c := newClient(t, false, addrs...)
	const keys = 100
	for i := range keys {
		k := fmt.Sprintf("key:%d", i)
		if err := c.Do(ctx(t), c.B().Set().Key(k).Value(k).Build()).Error(); err != nil {
			t.Fatalf("SET %s: %v", k, err)
		}
	}
	total := int64(0)
	for i, a := range addrs {
		n := newClient(t, true, a)
		info, err := n.Do(ctx(t), n.B().ClusterInfo().Build()).ToString()
		if err != nil || !strings.Contains(info, "cluster_state:ok") {
			t.Fatalf("node %d CLUSTER INFO: %v\n%s", i, err, info)
		}
		size, err := n.Do(ctx(t), n.B().Dbsize().Build()).AsInt64()
		if err != nil {
			t.Fatalf("node %d DBSIZE: %v", i, err)
		}
		if size == 0 {
			t.Errorf("node %d holds no keys: slots are not spread", i)
		}
		total += size
	}
	if total != keys {
		t.Fatalf("nodes hold %d keys, want %d", total, keys)
	}

	// A crashed master comes back with its slots but without its data.
	cl.Node(1).Kill()
	cl.Node(1).Restart(t)
	cl.Wait(t)
	found := 0
	for i := range keys {
		k := fmt.Sprintf("key:%d", i)
		v, err := c.Do(ctx(t), c.B().Get().Key(k).Build()).ToString()
		switch {
		case err == nil && v == k:
			found++
		case rueidis.IsRedisNil(err):
		default:
			t.Fatalf("GET %s after node restart: %v", k, err)
		}
	}
	if found == 0 || found == keys {
		t.Fatalf("%d of %d keys survived killing one of 3 masters; want some but not all", found, keys)
	}
}

func TestStartClusterTooSmall(t *testing.T) {
	ft := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		redistest.StartCluster(ft, 2)
	}()
	<-done
	if !strings.Contains(ft.msg, "at least 3") {
		t.Fatalf("StartCluster(2) fatal message = %q", ft.msg)
	}
}

// fatalRecorder captures a Fatalf and ends the goroutine as t.Fatal would.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// TestReplica: a replica started by StartReplica acknowledges the
// master's writes at once, holds them, and stops acknowledging while
// paused. It also pins down what stock's WaitReplicas relies on: rueidis
// sends a DoMulti holding WAIT on one connection, so the WAIT counts the
// acknowledgements of the write before it.
func TestReplica(t *testing.T) {
	master := redistest.Start(t)
	replica := redistest.StartReplica(t, master)
	t.Cleanup(replica.Resume)
	mc, rc := newClient(t, false, master.Addr()), newClient(t, false, replica.Addr())
	write := func(v string, ms int64) int64 {
		t.Helper()
		res := mc.DoMulti(ctx(t), mc.B().Set().Key("k").Value(v).Build(), mc.B().Wait().Numreplicas(1).Timeout(ms).Build())
		if err := res[0].Error(); err != nil {
			t.Fatal(err)
		}
		n, err := res[1].AsInt64()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := write("1", 5000); n != 1 {
		t.Fatalf("WAIT after a write = %d, want 1", n)
	}
	if v, err := rc.Do(ctx(t), rc.B().Get().Key("k").Build()).ToString(); err != nil || v != "1" {
		t.Fatalf("replica GET k = %q, %v; want 1", v, err)
	}
	replica.Pause()
	start := time.Now()
	if n := write("2", 100); n != 0 {
		t.Fatalf("WAIT with the replica paused = %d, want 0", n)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("WAIT 100ms returned after %v", d)
	}
	replica.Resume()
	if n := write("3", 5000); n != 1 {
		t.Fatalf("WAIT after resume = %d, want 1", n)
	}
}
