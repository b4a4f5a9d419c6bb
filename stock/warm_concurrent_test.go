package stock

import (
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestConcurrentWarms: two operators (two gateway instances) warming one
// activity at once, with different specs, while it sells: every admission
// must survive (none wiped by the other's load and sold again). A Warm
// may be refused (ErrWarmBusy while the other runs, ErrExists once the
// sale has sold); the store must end with sold == admitted.
func TestConcurrentWarms(t *testing.T) {
	for _, tp := range []topo{standaloneTopo, clusterTopo} {
		t.Run(tp.String(), func(t *testing.T) {
			first, another := open(t, tp)
			stores := []Store{first, another()}
			ctx := testCtx(t, 2*60e9)
			busy := 0
			for round := 0; round < 60; round++ {
				act := "cw" + strconv.Itoa(round)
				mustWarm(t, stores[0], Spec{Activity: act, Stock: 1000, Shards: 4, PerUser: 1}, false)
				var admitted atomic.Int64
				var refused atomic.Int64
				var wg sync.WaitGroup
				start := make(chan struct{})
				for g := 0; g < 8; g++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-start
						for i := 0; i < 30; i++ {
							d, _ := stores[g%2].Take(ctx, act, []byte("u"+strconv.Itoa(g)+"-"+strconv.Itoa(i)))
							if d.Result == Admitted {
								admitted.Add(1)
							}
						}
					}()
				}
				for w, s := range stores {
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-start
						for i := int64(1); i <= 10; i++ {
							err := s.Warm(ctx, Spec{Activity: act, Stock: 1000*int64(w+2) + i, Shards: 4, PerUser: 1}, false)
							switch {
							case errors.Is(err, ErrWarmBusy):
								refused.Add(1)
							case err != nil && !errors.Is(err, ErrExists):
								t.Errorf("warm: %v", err)
							}
						}
					}()
				}
				close(start)
				wg.Wait()
				busy += int(refused.Load())
				c, err := stores[0].Counts(ctx, act)
				if err != nil {
					t.Fatal(err)
				}
				if c.Sold != admitted.Load() {
					t.Fatalf("round %d: %d admitted but the store shows %d sold (%+v)", round, admitted.Load(), c.Sold, c)
				}
			}
			t.Logf("warms refused as busy: %d", busy)
		})
	}
}

// pauseAt makes r's next Warm stop at step until the returned resume is
// called; paused is closed once it has stopped there.
func pauseAt(r *RedisStore, step string) (paused <-chan struct{}, resume func()) {
	p, go_ := make(chan struct{}), make(chan struct{})
	var once sync.Once
	r.warmStep = func(s string) {
		if s == step {
			once.Do(func() { close(p); <-go_ })
		}
	}
	return p, func() { close(go_) }
}

// TestWarmLease: a Warm that finds another Warm of the same activity
// running (here paused between its check and its load) is refused at
// once with ErrWarmBusy and changes nothing; the running one finishes.
func TestWarmLease(t *testing.T) {
	first, another := open(t, standaloneTopo)
	a, b := first.(*RedisStore), another()
	ctx := testCtx(t, 20e9)
	mustWarm(t, a, Spec{Activity: "lease", Stock: 10, Shards: 2, PerUser: 1}, false)
	paused, resume := pauseAt(b, "checked")
	done := make(chan error, 1)
	go func() { done <- b.Warm(ctx, Spec{Activity: "lease", Stock: 20, Shards: 2, PerUser: 1}, false) }()
	<-paused
	err := a.Warm(ctx, Spec{Activity: "lease", Stock: 30, Shards: 2, PerUser: 1}, false)
	var ra interface{ RetryAfter() time.Duration }
	if !errors.Is(err, ErrWarmBusy) || !errors.As(err, &ra) || ra.RetryAfter() < time.Second || ra.RetryAfter() > warmLease {
		t.Fatalf("warm while another runs: %v, want ErrWarmBusy with a retry-after within the lease", err)
	}
	if err := a.Warm(ctx, Spec{Activity: "other", Stock: 5, Shards: 1, PerUser: 1}, false); err != nil {
		t.Fatalf("another activity's warm: %v (the lease is per activity)", err)
	}
	resume()
	if err := <-done; err != nil {
		t.Fatalf("the paused warm: %v", err)
	}
	if c, err := a.Counts(ctx, "lease"); err != nil || c.Loaded != 20 {
		t.Fatalf("counts %+v, %v: want the running warm's stock 20", c, err)
	}
	// The lease was given back: the next warm runs.
	if err := a.Warm(ctx, Spec{Activity: "lease", Stock: 30, Shards: 2, PerUser: 1}, false); err != nil {
		t.Fatalf("warm after the other ended: %v", err)
	}
}

// TestWarmLostLease: a Warm stalled past its lease (the lease expired,
// here deleted) while another Warm replaced the sale and sold must not
// load over those sales: whether it stalled before its version (meta.lua
// refuses it) or after (load.lua never goes back a version).
func TestWarmLostLease(t *testing.T) {
	for _, step := range []string{"checked", "versioned"} {
		t.Run(step, func(t *testing.T) {
			first, another := open(t, standaloneTopo)
			a, b := first.(*RedisStore), another()
			ctx := testCtx(t, 20e9)
			mustWarm(t, a, Spec{Activity: "lost", Stock: 10, Shards: 2, PerUser: 1}, false)
			paused, resume := pauseAt(b, step)
			done := make(chan error, 1)
			go func() { done <- b.Warm(ctx, Spec{Activity: "lost", Stock: 20, Shards: 2, PerUser: 1}, false) }()
			<-paused
			if err := a.bg.Do(ctx, a.bg.B().Del().Key(warmKey(a.prefix, "lost")).Build()).Error(); err != nil {
				t.Fatal(err)
			}
			mustWarm(t, a, Spec{Activity: "lost", Stock: 30, Shards: 2, PerUser: 1}, false)
			for i := range 4 {
				mustTake(t, a, "lost", "u"+strconv.Itoa(i), Admitted)
			}
			resume()
			err := <-done
			if step == "checked" && (!errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "lost its lease")) {
				t.Fatalf("stalled warm: %v, want it refused for its lost lease", err)
			}
			c, err := a.Counts(ctx, "lost")
			if err != nil || c.Loaded != 30 || c.Sold != 4 || c.Left != 26 {
				t.Fatalf("counts %+v, %v: want the newer warm's sale, 4 of 30 sold", c, err)
			}
		})
	}
}

// TestLoadKeepsSoldShard: load.lua never reloads a shard that sold in the
// version it holds unless forced, nor goes back to or repeats a version.
func TestLoadKeepsSoldShard(t *testing.T) {
	for _, tp := range []topo{standaloneTopo, clusterTopo} {
		t.Run(tp.String(), func(t *testing.T) {
			s, _ := open(t, tp)
			r := s.(*RedisStore)
			ctx := testCtx(t, 20e9)
			spec := Spec{Activity: "keep", Stock: 4, Shards: 2, PerUser: 1}
			mustWarm(t, r, spec, false)
			for i := range 2 {
				mustTake(t, r, "keep", "u"+strconv.Itoa(i), Admitted)
			}
			m, _, err := r.readMeta(ctx, "keep")
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range []int64{m.version, m.version - 1} {
				if err := r.loadShards(ctx, spec, v, []int{0, 1}, true); err != nil {
					t.Fatalf("load at version %d (current %d): %v", v, m.version, err)
				}
				mustLeft(t, r, "keep", 2)
			}
			err = r.loadShards(ctx, spec, m.version+1, []int{0, 1}, false)
			if !errors.Is(err, ErrExists) {
				t.Fatalf("load over a sold shard: %v, want ErrExists", err)
			}
			mustLeft(t, r, "keep", 2)
			if err := r.loadShards(ctx, spec, m.version+2, []int{0, 1}, true); err != nil {
				t.Fatalf("forced load: %v", err)
			}
		})
	}
}
