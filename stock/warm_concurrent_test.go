package stock

import (
	"context"
	"log/slog"

	"errors"
	"github.com/flashgate/flashgate/internal/redistest"
	"github.com/flashgate/flashgate/internal/syncbuf"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestConcurrentWarms: two operators (two gateway instances) warming one
// activity at once, with different specs, while it sells: a Warm may be
// refused (ErrWarmBusy while the other runs, ErrExists once the sale has
// sold), nothing else fails, and the store ends with sold == admitted.
// A smoke test of the lease under load: the interleavings that used to
// wipe a sale are too narrow to hit this way (it passed without the lease
// too), so the tests below pause one Warm at each step instead.
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

// stall pauses b's Warm of spec at step, lets the lease go (as if it had
// expired), runs newer on a while it is paused, sells there, resumes b and
// returns b's error, then checks that every sale survived: sold == the
// users admitted, none of them admitted again, and no more units sold
// than the newer spec has.
func stall(t *testing.T, a, b *RedisStore, step string, first, spec, newer Spec, users int) error {
	t.Helper()
	ctx := testCtx(t, 20e9)
	mustWarm(t, a, first, false)
	paused, resume := pauseAt(b, step)
	done := make(chan error, 1)
	go func() { done <- b.Warm(ctx, spec, false) }()
	<-paused
	if err := a.bg.Do(ctx, a.bg.B().Del().Key(warmKey(a.prefix, first.Activity)).Build()).Error(); err != nil {
		t.Fatal(err)
	}
	mustWarm(t, a, newer, false)
	for i := range users {
		mustTake(t, a, first.Activity, "u"+strconv.Itoa(i), Admitted)
	}
	resume()
	err := <-done
	// Whatever the stalled Warm did, an operator's next warm of the newer
	// spec must not sell anything twice.
	if werr := a.Warm(ctx, newer, false); werr != nil && !errors.Is(werr, ErrExists) {
		t.Fatalf("warm after the stalled one: %v", werr)
	}
	for i := range users {
		if d, _ := a.Take(ctx, first.Activity, []byte("u"+strconv.Itoa(i))); d.Result == Admitted {
			t.Errorf("user u%d bought twice (per_user 1): the stalled warm wiped its ledger", i)
		}
	}
	more := 0
	for i := 1000; i < 1000+2*int(newer.Stock); i++ {
		if d, _ := a.Take(ctx, first.Activity, []byte("u"+strconv.Itoa(i))); d.Result == Admitted {
			more++
		}
	}
	if int64(users+more) > newer.Stock {
		t.Errorf("oversold: %d sold before the stalled warm resumed, %d after, stock %d", users, more, newer.Stock)
	}
	return err
}

// TestWarmLostLease: a Warm stalled past its lease (the lease expired,
// here deleted) while a newer Warm replaced the sale and sold must fail
// saying so and change nothing of the newer sale: stalled before its
// version (meta.lua refuses it), after it with another spec (load.lua
// never goes back a version), after it with the same spec (the newer
// Warm finished the stalled one's load at its version: load.lua never
// repeats one), and after it or after its loads with fewer shards than
// the newer sale (drop.lua never deletes a newer load's shard).
func TestWarmLostLease(t *testing.T) {
	sp := func(stock int64, shards int) Spec {
		return Spec{Activity: "lost", Stock: stock, Shards: shards, PerUser: 1}
	}
	tests := []struct {
		name               string
		step               string
		first, spec, newer Spec
	}{
		{"before its version", "checked", sp(10, 2), sp(20, 2), sp(30, 2)},
		{"after its version", "versioned", sp(10, 2), sp(20, 2), sp(30, 2)},
		{"after its version, same spec as the newer", "versioned", sp(10, 2), sp(20, 2), sp(20, 2)},
		{"after its version, shrinking under a newer sale", "versioned", sp(40, 4), sp(20, 2), sp(8, 4)},
		{"after its loads, shrinking under a newer sale", "loaded", sp(40, 4), sp(20, 2), sp(8, 4)},
		{"after its version, more shards than the newer sale", "versioned", sp(8, 2), sp(40, 4), sp(4, 2)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			first, another := open(t, standaloneTopo)
			a, b := first.(*RedisStore), another()
			err := stall(t, a, b, tc.step, tc.first, tc.spec, tc.newer, 4)
			if !errors.Is(err, ErrWarmBusy) || !strings.Contains(err.Error(), "lost its lease") {
				t.Fatalf("stalled warm: %v, want it refused for its lost lease", err)
			}
			// Nor did it load shards the newer sale does not name: an
			// instance still on the stalled spec would sell them.
			for i := tc.newer.Shards; i < tc.spec.Shards; i++ {
				k := shardKeys(a.prefix, "lost", i)[kState]
				if v, err := a.bg.Do(testCtx(t, 5e9), a.bg.B().Hget().Key(k).Field("v").Build()).AsInt64(); err == nil && v != 0 {
					t.Errorf("shard %d holds version %d, beyond the newer sale's %d shards", i, v, tc.newer.Shards)
				}
			}
		})
	}
}

// TestLoadVersions: load.lua never reloads a shard that sold in the
// version it holds unless forced, and never goes back to or repeats a
// version, forced or not (it reports the shard superseded).
func TestLoadVersions(t *testing.T) {
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
				if sup, err := r.loadShards(ctx, spec, v, []int{0, 1}, true); err != nil || sup != 0 {
					t.Fatalf("load at version %d (current %d): superseded %d, %v; want shard 0 superseded", v, m.version, sup, err)
				}
				mustLeft(t, r, "keep", 2)
			}
			_, err = r.loadShards(ctx, spec, m.version+1, []int{0, 1}, false)
			if !errors.Is(err, ErrExists) {
				t.Fatalf("load over a sold shard: %v, want ErrExists", err)
			}
			mustLeft(t, r, "keep", 2)
			if sup, err := r.loadShards(ctx, spec, m.version+2, []int{0, 1}, true); err != nil || sup != -1 {
				t.Fatalf("forced load: superseded %d, %v", sup, err)
			}
		})
	}
}

// TestWarmMetaLost: the meta key is gone (evicted, deleted, or its write
// lost to a failover) while the shards hold a sale. A Warm without force,
// of any shard count, must neither wipe nor re-home that sale: it refuses
// (ErrExists) before it writes anything, nobody buys twice and nothing
// sells beyond the stock; a forced Warm resets it.
func TestWarmMetaLost(t *testing.T) {
	for _, shards := range []int{2, 4, 8} {
		t.Run(strconv.Itoa(shards)+" shards", func(t *testing.T) {
			s, _ := open(t, standaloneTopo)
			r := s.(*RedisStore)
			ctx := testCtx(t, 20e9)
			mustWarm(t, r, Spec{Activity: "mm", Stock: 8, Shards: 4, PerUser: 1}, false)
			// Buyers homed on shards 2 and 3: beyond a 2-shard spec.
			buyers := append(usersHomedAt(2, 2, 4), usersHomedAt(2, 3, 4)...)
			for _, u := range buyers {
				mustTake(t, r, "mm", u, Admitted)
			}
			if err := r.bg.Do(ctx, r.bg.B().Del().Key(metaKey(r.prefix, "mm")).Build()).Error(); err != nil {
				t.Fatal(err)
			}
			err := r.Warm(ctx, Spec{Activity: "mm", Stock: 8, Shards: shards, PerUser: 1}, false)
			if !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), "meta key is gone") {
				t.Fatalf("warm over a sale whose meta key was lost: %v, want ErrExists naming the lost meta key", err)
			}
			if _, ok, err := r.readMeta(ctx, "mm"); ok || err != nil {
				t.Fatalf("the refused warm wrote a meta key (%v)", err)
			}
			// The sale itself lives on in its shards: an instance that
			// still has its spec sells what is left, and no more.
			for _, u := range buyers {
				if d, _ := r.Take(ctx, "mm", []byte(u)); d.Result == Admitted {
					t.Errorf("%s bought twice after the refused warm", u)
				}
			}
			more := 0
			for i := range 40 {
				if d, _ := r.Take(ctx, "mm", []byte("n"+strconv.Itoa(i))); d.Result == Admitted {
					more++
				}
			}
			if len(buyers)+more > 8 {
				t.Errorf("oversold: %d sold before, %d after, stock 8", len(buyers), more)
			}
			mustWarm(t, r, Spec{Activity: "mm", Stock: 8, Shards: 2, PerUser: 1}, true)
			mustLeft(t, r, "mm", 8)
		})
	}
}

// TestWarmMetaBehind: the meta key lost its last writes (restored from an
// older copy, or a failover) while the shards kept a newer load. A Warm
// without force must say so (ErrExists: check the sale, force resets it)
// instead of answering "warmed" or blaming a lost lease for ever, whether
// it meets the newer shards finishing the meta key's pending delete or
// finishing its load; a forced Warm resets the sale.
func TestWarmMetaBehind(t *testing.T) {
	for _, tc := range []struct {
		name   string
		before []Spec // warmed in order, each forced; the meta key is then put back to the first's
		warm   Spec
	}{
		{"pending delete meets a newer shard",
			[]Spec{{Stock: 4, Shards: 2}, {Stock: 12, Shards: 4}}, Spec{Stock: 12, Shards: 4}},
		{"finishing the load meets a newer shard",
			[]Spec{{Stock: 10, Shards: 2}, {Stock: 10, Shards: 2}}, Spec{Stock: 10, Shards: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := open(t, standaloneTopo)
			r := s.(*RedisStore)
			ctx := testCtx(t, 20e9)
			mustWarm(t, r, Spec{Activity: "mb", Stock: 8, Shards: 4, PerUser: 1}, false)
			var saved map[string]string
			for i, sp := range tc.before {
				sp.Activity, sp.PerUser = "mb", 1
				mustWarm(t, r, sp, true)
				if i == 0 {
					m, err := r.bg.Do(ctx, r.bg.B().Hgetall().Key(metaKey(r.prefix, "mb")).Build()).AsStrMap()
					if err != nil {
						t.Fatal(err)
					}
					saved = m
				}
			}
			if tc.name == "pending delete meets a newer shard" {
				saved["drop"] = "4" // as it was before its delete was done
			}
			cmd := r.bg.B().Hset().Key(metaKey(r.prefix, "mb")).FieldValue()
			for k, v := range saved {
				cmd = cmd.FieldValue(k, v)
			}
			if err := r.bg.Do(ctx, cmd.Build()).Error(); err != nil {
				t.Fatal(err)
			}
			r.drop("mb")
			tc.warm.Activity, tc.warm.PerUser = "mb", 1
			for range 2 {
				err := r.Warm(ctx, tc.warm, false)
				if !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), "newer load than the meta key names") {
					t.Fatalf("warm on a meta key behind its shards: %v, want ErrExists saying so", err)
				}
			}
			mustWarm(t, r, tc.warm, true)
			mustLeft(t, r, "mb", tc.warm.Stock)
		})
	}
}

// TestWarmLostLeaseResuming: a Warm finishing a half-done load that
// stalls past its lease while a newer Warm replaces the sale and sells
// fails saying so, and the newer sale keeps every sale.
func TestWarmLostLeaseResuming(t *testing.T) {
	first, another := open(t, standaloneTopo)
	a, b := first.(*RedisStore), another()
	ctx := testCtx(t, 20e9)
	mustWarm(t, a, Spec{Activity: "lr", Stock: 10, Shards: 2, PerUser: 1}, false)
	spec := Spec{Activity: "lr", Stock: 20, Shards: 2, PerUser: 1}
	halfWarm(t, a, spec, false, 0, []int{0})
	paused, resume := pauseAt(b, "resuming")
	done := make(chan error, 1)
	go func() { done <- b.Warm(ctx, spec, false) }()
	<-paused
	if err := a.bg.Do(ctx, a.bg.B().Del().Key(warmKey(a.prefix, "lr")).Build()).Error(); err != nil {
		t.Fatal(err)
	}
	mustWarm(t, a, Spec{Activity: "lr", Stock: 30, Shards: 2, PerUser: 1}, false)
	for i := range 4 {
		mustTake(t, a, "lr", "u"+strconv.Itoa(i), Admitted)
	}
	resume()
	if err := <-done; !errors.Is(err, ErrWarmBusy) || !strings.Contains(err.Error(), "lost its lease") {
		t.Fatalf("stalled resume: %v, want it refused for its lost lease", err)
	}
	if c, err := a.Counts(ctx, "lr"); err != nil || c.Loaded != 30 || c.Sold != 4 {
		t.Fatalf("counts %+v, %v: want the newer sale, 4 of 30 sold", c, err)
	}
}

// TestLoadedSeesLeaseAndDrop: Loaded (the CLI's and admin's "already
// loaded, nothing to do") answers false while a Warm holds the lease (it
// may be replacing the sale: the caller's Warm then says warm_running) and
// while a delete of old shards is pending (the caller's Warm finishes it).
func TestLoadedSeesLeaseAndDrop(t *testing.T) {
	s, _ := open(t, standaloneTopo)
	r := s.(*RedisStore)
	ctx := testCtx(t, 20e9)
	four := Spec{Activity: "ld", Stock: 8, Shards: 4, PerUser: 1}
	mustWarm(t, r, four, false)
	loaded := func(sp Spec) bool {
		t.Helper()
		ok, err := Loaded(ctx, r, sp)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !loaded(four) {
		t.Fatal("not loaded after its warm")
	}
	lease := warmKey(r.prefix, "ld")
	if err := r.bg.Do(ctx, r.bg.B().Set().Key(lease).Value("someone").Build()).Error(); err != nil { // no TTL: set by hand
		t.Fatal(err)
	}
	if loaded(four) {
		t.Error("Loaded while another warm holds the lease")
	}
	err := r.Warm(ctx, four, false)
	if !errors.Is(err, ErrWarmBusy) {
		t.Fatalf("warm during a lease set by hand: %v, want ErrWarmBusy", err)
	}
	if ms, err := r.bg.Do(ctx, r.bg.B().Pttl().Key(lease).Build()).AsInt64(); err != nil || ms <= 0 || ms > warmLease.Milliseconds() {
		t.Fatalf("a lease without an expiry kept none (PTTL %d, %v): it would keep every warm out for ever", ms, err)
	}
	if err := r.bg.Do(ctx, r.bg.B().Del().Key(lease).Build()).Error(); err != nil {
		t.Fatal(err)
	}
	two := Spec{Activity: "ld", Stock: 4, Shards: 2, PerUser: 1}
	halfWarm(t, r, two, true, 4, []int{0, 1})
	if loaded(two) {
		t.Error("Loaded with a delete of its old shards pending")
	}
	mustWarm(t, r, two, false)
	if !loaded(two) {
		t.Error("not loaded after the warm that finished the delete")
	}
}

// TestPayWithinLeased: a Warm's pay_within change is written only by the
// lease's holder.
func TestPayWithinLeased(t *testing.T) {
	s, _ := open(t, standaloneTopo)
	r := s.(*RedisStore)
	ctx := testCtx(t, 20e9)
	mustWarm(t, r, Spec{Activity: "pw", Stock: 8, Shards: 2, PerUser: 1}, false)
	err := r.setPayWithinLeased(ctx, Spec{Activity: "pw", Stock: 8, Shards: 2, PerUser: 1, PayWithin: time.Minute}, "not-the-holder")
	if !errors.Is(err, ErrWarmBusy) {
		t.Fatalf("pay_within without the lease: %v, want a lost-lease error", err)
	}
	if m, _, err := r.readMeta(ctx, "pw"); err != nil || m.spec.PayWithin != 0 {
		t.Fatalf("pay_within %v (%v): written without the lease", m.spec.PayWithin, err)
	}
}

// soldSale warms spec on a fresh standalone Redis and sells it to buyers
// users, u0, u1, ...
func soldSale(t *testing.T, spec Spec, buyers int) (*RedisStore, context.Context) {
	t.Helper()
	s, _ := open(t, standaloneTopo)
	r := s.(*RedisStore)
	mustWarm(t, r, spec, false)
	for i := range buyers {
		mustTake(t, r, spec.Activity, "u"+strconv.Itoa(i), Admitted)
	}
	return r, testCtx(t, 20e9)
}

// halfWarm runs the first steps of a Warm of spec by hand, under the
// lease, and stops as a Warm that died would: the version allocated and
// the spec recorded (with force and the shard count to drop), only the
// given shards loaded, nothing dropped or announced.
func halfWarm(t *testing.T, r *RedisStore, spec Spec, force bool, drop int, loaded []int) {
	t.Helper()
	ctx := testCtx(t, 20e9)
	token, err := r.takeLease(ctx, spec.Activity)
	if err != nil {
		t.Fatal(err)
	}
	defer r.giveLease(spec.Activity, token)
	floor, _, err := r.highestVersion(ctx, spec.Activity, max(spec.Shards, drop))
	if err != nil {
		t.Fatal(err)
	}
	v, err := r.newVersion(ctx, metaSpec{spec: spec, forced: force, drop: drop}, floor, token)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.loadShards(ctx, spec, v, loaded, force); err != nil {
		t.Fatal(err)
	}
	r.drop(spec.Activity)
}

// TestWarmFinishesForced: a forced Warm that died half-way (one shard of
// two reset) is finished by the next Warm of the same spec without force,
// as forced: the shard it did not reach sold under the old load and is
// reset as the forced Warm would have.
func TestWarmFinishesForced(t *testing.T) {
	r, ctx := soldSale(t, Spec{Activity: "rf", Stock: 10, Shards: 2, PerUser: 1}, 6)
	spec := Spec{Activity: "rf", Stock: 20, Shards: 2, PerUser: 1}
	halfWarm(t, r, spec, true, 0, []int{0})
	if err := r.Warm(ctx, spec, false); err != nil {
		t.Fatalf("finishing the forced warm: %v", err)
	}
	mustLeft(t, r, "rf", 20)
}

// TestWarmFinishesDrop: a forced Warm from 4 shards to 2 that died before
// deleting shards 2 and 3 leaves them sold at the old version; the next
// Warm of any spec deletes them first, so a later Warm back to 4 shards
// loads them instead of finding them sold.
func TestWarmFinishesDrop(t *testing.T) {
	r, ctx := soldSale(t, Spec{Activity: "fd", Stock: 8, Shards: 4, PerUser: 1}, 8)
	two := Spec{Activity: "fd", Stock: 4, Shards: 2, PerUser: 1}
	halfWarm(t, r, two, true, 4, []int{0, 1})
	mustWarm(t, r, two, false) // nothing to load: it finishes the drop
	if n, err := r.bg.Do(ctx, r.bg.B().Exists().Key(shardKeys(r.prefix, "fd", 2)[kState]).Build()).AsInt64(); err != nil || n != 0 {
		t.Fatalf("shard 2 after the drop was finished: exists %d, %v", n, err)
	}
	mustWarm(t, r, Spec{Activity: "fd", Stock: 12, Shards: 4, PerUser: 1}, false)
	mustLeft(t, r, "fd", 12)
}

// TestLostSaleIsLogged: a sale this instance saw loaded that vanishes from
// Redis (a restart without persistence, a flush) is logged once, with the
// advice not to warm it again before reconciling: its purchases answer
// not_loaded, and a warm would sell its sold units again. Whether a
// purchase finds it gone first, or the sync loop does while no one buys.
func TestLostSaleIsLogged(t *testing.T) {
	for _, idle := range []bool{false, true} {
		t.Run(map[bool]string{false: "a purchase finds it", true: "the sync loop finds it"}[idle], func(t *testing.T) {
			srv := redistest.Start(t)
			var logs syncbuf.Buffer
			r := newRedisStore(t, newClient(t, srv.Addr()), func(o *RedisOptions) {
				o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
				o.SyncInterval = 20 * time.Millisecond
			})
			ctx := testCtx(t, 20e9)
			mustWarm(t, r, Spec{Activity: "gone", Stock: 4, Shards: 2, PerUser: 1}, false)
			mustTake(t, r, "gone", "u1", Admitted)
			if err := r.c.Do(ctx, r.c.B().Flushall().Build()).Error(); err != nil {
				t.Fatal(err)
			}
			if idle {
				eventually(t, 10*time.Second, "the sync loop's warning", func() bool {
					return strings.Contains(logs.String(), "a loaded sale is gone from Redis")
				})
			}
			for range 3 {
				if d, err := r.Take(ctx, "gone", []byte("u2")); err != nil || d.Result != NotLoaded {
					t.Fatalf("take after the flush: %+v %v, want NotLoaded", d, err)
				}
			}
			out := logs.String()
			if n := strings.Count(out, "a loaded sale is gone from Redis"); n != 1 || !strings.Contains(out, "activity=gone") ||
				!strings.Contains(out, "Do not warm it again before reconciling") {
				t.Fatalf("log (%d warnings):\n%s", n, out)
			}
		})
	}
}
