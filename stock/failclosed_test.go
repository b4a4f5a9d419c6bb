package stock

import (
	"context"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flashgate/flashgate/internal/redistest"
)

const failTimeout = 100 * time.Millisecond

// slack is what a bounded call may take beyond its Timeout on a busy
// 2-core machine (scheduling, the timer, the race detector).
const slack = 400 * time.Millisecond

// TestFailClosedKill kills Redis in the middle of a sale: every Take that
// starts afterwards returns ErrUnavailable within about Timeout, none is
// Admitted; after a restart (no persistence) and a re-Warm, selling
// resumes.
func TestFailClosedKill(t *testing.T) {
	srv := redistest.Start(t)
	s := newRedisStore(t, newClient(t, srv.Addr()), func(o *RedisOptions) { o.Timeout = failTimeout })
	spec := Spec{Activity: "kill", Stock: 100000, Shards: 8, PerUser: 1}
	mustWarm(t, s, spec, false)

	var (
		killed    atomic.Bool
		admitted  atomic.Int64
		after     atomic.Int64 // Takes started after the kill
		violation atomic.Value
		wg        sync.WaitGroup
		user      atomic.Int64
	)
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100000; i++ { // bounded; stop ends it far sooner
				select {
				case <-stop:
					return
				default:
				}
				wasKilled := killed.Load()
				start := time.Now()
				d, err := s.Take(context.Background(), "kill", []byte("u"+strconv.FormatInt(user.Add(1), 10)))
				took := time.Since(start)
				if !wasKilled {
					if err == nil && d.Result == Admitted {
						admitted.Add(1)
					}
					continue
				}
				after.Add(1)
				switch {
				case err == nil:
					violation.CompareAndSwap(nil, "Take after the kill = "+d.Result.String()+", want ErrUnavailable")
				case !isUnavailable(err):
					violation.CompareAndSwap(nil, "Take after the kill: "+err.Error()+" is not ErrUnavailable")
				case took > failTimeout+slack:
					violation.CompareAndSwap(nil, "Take after the kill took "+took.String())
				}
			}
		}()
	}
	eventually(t, 5*time.Second, "the sale admits", func() bool { return admitted.Load() >= 50 })
	srv.Kill()
	killed.Store(true)
	eventually(t, 5*time.Second, "Takes run against the dead server", func() bool { return after.Load() >= 20 })
	close(stop)
	wg.Wait()
	if v := violation.Load(); v != nil {
		t.Fatal(v)
	}
	t.Logf("%d admitted before the kill, %d Takes after it, all ErrUnavailable", admitted.Load(), after.Load())

	srv.Restart(t)
	eventually(t, 10*time.Second, "Warm after the restart", func() bool {
		return s.Warm(context.Background(), spec, false) == nil
	})
	eventually(t, 10*time.Second, "selling after the restart", func() bool {
		d, err := s.Take(context.Background(), "kill", []byte("after-restart"))
		return err == nil && d.Result == Admitted
	})
}

// TestFailClosedSilent points the store at a listener that accepts and
// never answers (a proxy that forwards until it goes silent, since the
// client's handshake needs one answer): every call fails within about
// Timeout with ErrUnavailable.
func TestFailClosedSilent(t *testing.T) {
	srv := redistest.Start(t)
	p := newSilentProxy(t, srv.Addr())
	s := newRedisStore(t, newClient(t, p.addr()), func(o *RedisOptions) { o.Timeout = failTimeout })
	mustWarm(t, s, Spec{Activity: "silent", Stock: 100, Shards: 4, PerUser: 1}, false)
	mustTake(t, s, "silent", "before", Admitted)
	p.silence()

	calls := []struct {
		name string
		do   func(ctx context.Context) error
	}{
		{"take", func(ctx context.Context) error { _, err := s.Take(ctx, "silent", []byte("x")); return err }},
		{"take new activity", func(ctx context.Context) error { _, err := s.Take(ctx, "other", []byte("x")); return err }},
		{"release", func(ctx context.Context) error {
			_, err := s.Release(ctx, "silent", []byte("before"), 1<<32|1)
			return err
		}},
		{"left", func(ctx context.Context) error { _, err := s.Left(ctx, "silent"); return err }},
		{"top-up", func(ctx context.Context) error { return s.TopUp(ctx, "silent", 1) }},
		{"warm", func(ctx context.Context) error {
			return s.Warm(ctx, Spec{Activity: "silent", Stock: 1, Shards: 1, PerUser: 1}, true)
		}},
		{"reconcile", func(ctx context.Context) error { _, err := s.Reconcile(ctx); return err }},
	}
	for _, tc := range calls {
		t.Run(tc.name, func(t *testing.T) {
			for range 3 {
				start := time.Now()
				err := tc.do(context.Background())
				if took := time.Since(start); took > failTimeout+slack {
					t.Errorf("took %v, want about %v", took, failTimeout)
				}
				if !isUnavailable(err) {
					t.Fatalf("err = %v, want ErrUnavailable", err)
				}
			}
		})
	}
	if s.SoldOut("silent") {
		t.Error("an unreachable store reports SoldOut")
	}
}

// silentProxy forwards TCP to target until silence; from then on it keeps
// every connection open, reads what comes and answers nothing.
type silentProxy struct {
	ln     net.Listener
	target string
	quiet  atomic.Bool
	mu     sync.Mutex
	up     []net.Conn // upstream connections, closed on silence
	wg     sync.WaitGroup
}

func newSilentProxy(t *testing.T, target string) *silentProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &silentProxy{ln: ln, target: target}
	var conns []net.Conn
	var cmu sync.Mutex
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			cmu.Lock()
			conns = append(conns, c)
			cmu.Unlock()
			p.wg.Add(1)
			go func() { defer p.wg.Done(); p.serve(c) }()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		cmu.Lock()
		for _, c := range conns {
			c.Close()
		}
		cmu.Unlock()
		p.silence()
		p.wg.Wait()
	})
	return p
}

func (p *silentProxy) addr() string { return p.ln.Addr().String() }

func (p *silentProxy) serve(c net.Conn) {
	if !p.quiet.Load() {
		up, err := net.DialTimeout("tcp", p.target, time.Second)
		if err == nil {
			p.mu.Lock()
			p.up = append(p.up, up)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(c, up) }() // stops when up is closed
			buf := make([]byte, 4096)
			for {
				n, err := c.Read(buf)
				if err != nil {
					up.Close()
					return
				}
				if !p.quiet.Load() {
					_, _ = up.Write(buf[:n])
				}
			}
		}
	}
	_, _ = io.Copy(io.Discard, c) // a black hole until the test closes c
}

func (p *silentProxy) silence() {
	p.quiet.Store(true)
	p.mu.Lock()
	for _, c := range p.up {
		c.Close()
	}
	p.up = nil
	p.mu.Unlock()
}
