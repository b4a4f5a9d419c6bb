package stock

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flashgate/flashgate/internal/redistest"
)

// testClock is an injected clock that moves only when a test says so.
type testClock struct{ ns atomic.Int64 }

func newTestClock() *testClock {
	c := &testClock{}
	c.ns.Store(time.Date(2026, 11, 11, 20, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *testClock) now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *testClock) add(d time.Duration) { c.ns.Add(int64(d)) }

// payTopo starts tp's backend once and returns how to open a store on
// it with the store's clock injected. Every store it opens on Redis has a
// key prefix of its own, so the tests sharing one Redis (a cluster is
// slow to start) do not see each other. The Redis sync loop is slowed
// down so that the test's own sweeps do the work (a sync pass still runs
// at start; the tests check the store's numbers, not which sweep
// released a unit).
func payTopo(t *testing.T, tp topo) func(t *testing.T, clk *testClock) (Store, func() *RedisStore) {
	t.Helper()
	var addrs []string
	switch tp {
	case standaloneTopo:
		addrs = []string{redistest.Start(t).Addr()}
	case clusterTopo:
		addrs = redistest.StartCluster(t, 3).Addrs()
	}
	var n atomic.Int64
	return func(t *testing.T, clk *testClock) (Store, func() *RedisStore) {
		t.Helper()
		if tp == memTopo {
			m := NewMemoryClock(clk.now).(*memoryStore)
			m.sweeper.every = time.Hour
			t.Cleanup(func() { _ = m.Close() })
			return m, nil
		}
		prefix := "pay" + strconv.FormatInt(n.Add(1), 10) + ":"
		another := func() *RedisStore {
			return newRedisStore(t, newClient(t, addrs...), func(o *RedisOptions) {
				o.Now, o.SyncInterval, o.Prefix = clk.now, time.Hour, prefix
			})
		}
		return another(), another
	}
}

func mustPaid(t testing.TB, s Store, activity, user string, seq int64, want PaidResult) {
	t.Helper()
	got, err := s.Paid(testCtx(t, 5*time.Second), activity, []byte(user), seq)
	if err != nil || got != want {
		t.Fatalf("Paid(%s, %s, %d) = %v, %v; want %v", activity, user, seq, got, err, want)
	}
}

func mustSweep(t testing.TB, s Store) int {
	t.Helper()
	n, err := s.Sweep(testCtx(t, 10*time.Second))
	if err != nil {
		t.Fatalf("Sweep: %v", err)
	}
	return n
}

// wantPay checks the pay_within numbers and that they add up with the
// stock numbers: without backend releases, Sold = Held + Paid.
func wantPay(t testing.TB, c Counts, left, held, paid, unpaid int64) {
	t.Helper()
	if c.Left != left || c.Held != held || c.Paid != paid || c.ReleasedUnpaid != unpaid {
		t.Fatalf("counts %+v, want left %d held %d paid %d released_unpaid %d", c, left, held, paid, unpaid)
	}
	if c.Sold != c.Held+c.Paid || c.Left+c.Sold != c.Total {
		t.Fatalf("counts %+v do not add up: sold != held + paid or left + sold != total", c)
	}
}

func TestPayWithin(t *testing.T) {
	const window = 15 * time.Minute
	tests := []struct {
		name   string
		shards int
		stock  int64
		run    func(t *testing.T, s Store, clk *testClock, users []string)
	}{
		{"unpaid units come back after the deadline, paid ones do not", 2, 3, func(t *testing.T, s Store, clk *testClock, users []string) {
			var seqs []int64
			for _, u := range users[:3] {
				seqs = append(seqs, mustTake(t, s, "pay", u, Admitted).Seq)
			}
			wantPay(t, mustCounts(t, s, "pay"), 0, 3, 0, 0)
			mustPaid(t, s, "pay", users[0], seqs[0], PaidNow)
			mustPaid(t, s, "pay", users[0], seqs[0], PaidAlready) // idempotent
			wantPay(t, mustCounts(t, s, "pay"), 0, 2, 1, 0)

			clk.add(window - time.Millisecond)
			if n := mustSweep(t, s); n != 0 {
				t.Fatalf("sweep before the deadline released %d", n)
			}
			clk.add(time.Millisecond)
			mustSweep(t, s) // the numbers below say what it released
			wantPay(t, mustCounts(t, s, "pay"), 2, 0, 1, 2)
			if n := mustSweep(t, s); n != 0 {
				t.Fatalf("a second sweep released %d more", n)
			}
			// A late payment is refused; the paid one stays paid.
			mustPaid(t, s, "pay", users[1], seqs[1], PaidTooLate)
			mustPaid(t, s, "pay", users[0], seqs[0], PaidAlready)
			// The allowance is free: the user buys again, the paid user cannot.
			mustTake(t, s, "pay", users[1], Admitted)
			mustTake(t, s, "pay", users[0], LimitReached)
			if ok, err := s.Release(testCtx(t, 5*time.Second), "pay", []byte(users[2]), seqs[2]); ok || err != nil {
				t.Fatalf("Release of a unit released unpaid = %v, %v; want false", ok, err)
			}
			wantPay(t, mustCounts(t, s, "pay"), 1, 1, 1, 2)
		}},
		{"unknown keys", 2, 2, func(t *testing.T, s Store, clk *testClock, users []string) {
			d := mustTake(t, s, "pay", users[0], Admitted)
			mustPaid(t, s, "pay", users[1], d.Seq, PaidUnknown)   // another user
			mustPaid(t, s, "pay", users[0], d.Seq+1, PaidUnknown) // never issued
			mustPaid(t, s, "pay", users[0], makeSeq(99, 1), PaidUnknown)
			if _, err := s.Paid(testCtx(t, 5*time.Second), "nope", []byte(users[0]), d.Seq); !errors.Is(err, ErrNotLoaded) {
				t.Fatalf("Paid on an activity never loaded: %v, want ErrNotLoaded", err)
			}
		}},
		{"a unit the backend released is neither due nor payable", 2, 2, func(t *testing.T, s Store, clk *testClock, users []string) {
			d := mustTake(t, s, "pay", users[0], Admitted)
			if ok, err := s.Release(testCtx(t, 5*time.Second), "pay", []byte(users[0]), d.Seq); !ok || err != nil {
				t.Fatalf("Release = %v, %v", ok, err)
			}
			wantPay(t, mustCounts(t, s, "pay"), 2, 0, 0, 0)
			clk.add(window)
			if n := mustSweep(t, s); n != 0 {
				t.Fatalf("sweep released %d units already given back", n)
			}
			mustPaid(t, s, "pay", users[0], d.Seq, PaidUnknown)
			wantPay(t, mustCounts(t, s, "pay"), 2, 0, 0, 0)
		}},
		{"borrowed units (the home shard is empty) expire on their shard", 4, 1, func(t *testing.T, s Store, clk *testClock, users []string) {
			// Stock 1 over 4 shards: only shard 0 has a unit; users[3]
			// lives on shard 3 and must borrow it.
			u := users[3]
			d := mustTake(t, s, "pay", u, Admitted)
			if d.Shard != 0 {
				t.Fatalf("took on shard %d, want a borrow from 0", d.Shard)
			}
			wantPay(t, mustCounts(t, s, "pay"), 0, 1, 0, 0)
			clk.add(window)
			mustSweep(t, s) // the numbers below say what it released
			wantPay(t, mustCounts(t, s, "pay"), 1, 0, 0, 1)
			mustPaid(t, s, "pay", u, d.Seq, PaidTooLate)
			mustTake(t, s, "pay", users[0], Admitted) // the unit sells again
			mustTake(t, s, "pay", u, SoldOut)
		}},
		{"a borrowed unit paid in time stays sold", 4, 1, func(t *testing.T, s Store, clk *testClock, users []string) {
			d := mustTake(t, s, "pay", users[3], Admitted)
			mustPaid(t, s, "pay", users[3], d.Seq, PaidNow)
			clk.add(2 * window)
			if n := mustSweep(t, s); n != 0 {
				t.Fatalf("sweep released %d paid units", n)
			}
			wantPay(t, mustCounts(t, s, "pay"), 0, 0, 1, 0)
		}},
		{"pay_within changes in place, for the admissions that follow", 2, 4, func(t *testing.T, s Store, clk *testClock, users []string) {
			first := mustTake(t, s, "pay", users[0], Admitted)
			mustWarm(t, s, Spec{Activity: "pay", Stock: 4, Shards: 2, PerUser: 1, PayWithin: 2 * window}, false)
			if c := mustCounts(t, s, "pay"); c.Sold != 1 {
				t.Fatalf("the pay_within change reset the sale: %+v", c)
			}
			mustTake(t, s, "pay", users[1], Admitted)
			clk.add(window)
			mustSweep(t, s)
			wantPay(t, mustCounts(t, s, "pay"), 3, 1, 0, 1) // the first unit only
			mustPaid(t, s, "pay", users[0], first.Seq, PaidTooLate)
			clk.add(window)
			mustSweep(t, s) // the numbers below say what it released
			wantPay(t, mustCounts(t, s, "pay"), 4, 0, 0, 2)
		}},
	}
	for _, tp := range allTopos {
		t.Run(tp.String(), func(t *testing.T) {
			open := payTopo(t, tp)
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					clk := newTestClock()
					s, _ := open(t, clk)
					mustWarm(t, s, Spec{Activity: "pay", Stock: tc.stock, Shards: tc.shards, PerUser: 1, PayWithin: window}, false)
					// users[i] lives on shard i % shards.
					users := make([]string, 8)
					for i := range users {
						users[i] = usersHomedAt(i/tc.shards+1, i%tc.shards, tc.shards)[i/tc.shards]
					}
					tc.run(t, s, clk, users)
				})
			}
		})
	}
}

// TestPaidWithoutDeadline: an activity without pay_within sells for good;
// paid is a harmless no-op and nothing is ever swept.
func TestPaidWithoutDeadline(t *testing.T) {
	for _, tp := range allTopos {
		t.Run(tp.String(), func(t *testing.T) {
			clk := newTestClock()
			s, _ := payTopo(t, tp)(t, clk)
			mustWarm(t, s, Spec{Activity: "plain", Stock: 2, Shards: 2, PerUser: 1}, false)
			d := mustTake(t, s, "plain", "alice", Admitted)
			mustPaid(t, s, "plain", "alice", d.Seq, PaidAlready)
			clk.add(24 * time.Hour)
			if n := mustSweep(t, s); n != 0 {
				t.Fatalf("sweep released %d", n)
			}
			if c := mustCounts(t, s, "plain"); c.Sold != 1 || c.Held != 0 || c.Paid != 0 {
				t.Fatalf("counts %+v, want one unit sold for good", c)
			}
		})
	}
}

// TestPaidRacesExpiry runs payments and sweeps (from two instances on
// Redis) at the same time, after the deadline: for every unit exactly
// one side wins, the numbers add up, and nothing is oversold.
func TestPaidRacesExpiry(t *testing.T) {
	const (
		units  = 120
		shards = 4
	)
	for _, tp := range allTopos {
		t.Run(tp.String(), func(t *testing.T) {
			clk := newTestClock()
			s, another := payTopo(t, tp)(t, clk)
			sweepers := []Store{s}
			if another != nil {
				sweepers = append(sweepers, another())
			}
			// The buyers spread unevenly over the shards: the last ones on a
			// crowded shard borrow from the others.
			mustWarm(t, s, Spec{Activity: "race", Stock: units, Shards: shards, PerUser: 1, PayWithin: time.Minute}, false)
			users := make([]string, units)
			seqs := make([]int64, units)
			for i := range users {
				users[i] = "buyer-" + strconv.Itoa(i)
				seqs[i] = mustTake(t, s, "race", users[i], Admitted).Seq
			}
			mustTake(t, s, "race", "late", SoldOut)
			clk.add(time.Minute)

			results := make([]PaidResult, units)
			var wg sync.WaitGroup
			var swept, resold atomic.Int64
			ctx := testCtx(t, 60*time.Second)
			for _, sw := range sweepers {
				for range 2 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for range 4 {
							n, err := sw.Sweep(ctx)
							if err != nil {
								t.Error(err)
								return
							}
							swept.Add(int64(n))
						}
					}()
				}
			}
			// New buyers meanwhile, on every instance: they get only what the
			// sweepers gave back.
			for w, sw := range sweepers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range units / 2 {
						d, err := sw.Take(ctx, "race", []byte("new-"+strconv.Itoa(w)+"-"+strconv.Itoa(i)))
						if err != nil {
							t.Error(err)
							return
						}
						if d.Result == Admitted {
							resold.Add(1)
						}
					}
				}()
			}
			for w := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := w; i < units; i += 4 {
						r, err := sweepers[i%len(sweepers)].Paid(ctx, "race", []byte(users[i]), seqs[i])
						if err != nil {
							t.Error(err)
							return
						}
						results[i] = r
					}
				}()
			}
			wg.Wait()
			if t.Failed() {
				return
			}
			var paid, late int64
			for i, r := range results {
				switch r {
				case PaidNow:
					paid++
				case PaidTooLate:
					late++
				default:
					t.Fatalf("Paid(%s) = %v, want paid or released_unpaid", users[i], r)
				}
			}
			// Units paid before the sweep got there, and units swept before
			// the payment: the two sides never both win a unit. (The
			// sync loops' own sweeps may release some too.)
			if n := swept.Load(); n > late {
				t.Fatalf("%d payments refused, but the sweepers released %d", late, n)
			}
			for i := range users {
				want := PaidAlready
				if results[i] == PaidTooLate {
					want = PaidTooLate
				}
				mustPaid(t, s, "race", users[i], seqs[i], want)
			}
			// The resold units are held again; the rest of the released ones
			// sell to the next buyers, and nothing more.
			n := resold.Load()
			t.Logf("%d paid in time, %d released unpaid, %d of them resold at once", paid, late, n)
			if n > late {
				t.Fatalf("resold %d units, but only %d came back", n, late)
			}
			wantPay(t, mustCounts(t, s, "race"), late-n, n, paid, late)
			for i := range late - n {
				mustTake(t, s, "race", "again-"+strconv.FormatInt(i, 10), Admitted)
			}
			mustTake(t, s, "race", "again-last", SoldOut)
		})
	}
}

// TestSweepKilledHalfWay: a sweeper that dies after any step of a
// borrowed unit's release leaves it for the next sweep, on any instance,
// which finishes it once: the unit comes back exactly once.
func TestSweepKilledHalfWay(t *testing.T) {
	for _, tp := range []topo{standaloneTopo, clusterTopo} {
		t.Run(tp.String(), func(t *testing.T) {
			open := payTopo(t, tp)
			for _, steps := range []int{1, 2} {
				t.Run(strconv.Itoa(steps)+" step(s) done", func(t *testing.T) {
					clk := newTestClock()
					s, another := open(t, clk)
					r := s.(*RedisStore)
					mustWarm(t, s, Spec{Activity: "half", Stock: 1, Shards: 2, PerUser: 1, PayWithin: time.Minute}, false)
					u := usersHomedAt(1, 1, 2)[0]
					d := mustTake(t, s, "half", u, Admitted)
					if d.Shard != 0 {
						t.Fatalf("took on %d, want a borrow from shard 0", d.Shard)
					}
					clk.add(time.Minute)
					a := r.cached("half")
					_, n := splitSeq(d.Seq)
					ns, id := strconv.FormatInt(n, 10), orderID(n, u)
					ctx := testCtx(t, 10*time.Second)
					res, err := expireScript.Exec(ctx, r.bg, a.keys[1], []string{a.verStr, ns, u, a.idx[1], r.channel, stockMsg("half", 1)}).AsIntSlice()
					if err != nil || len(res) != 2 || res[0] != 2 || res[1] != 0 {
						t.Fatalf("expire.lua = %v, %v; want {2, 0}", res, err)
					}
					if steps == 2 {
						if code, err := r.runBg(ctx, "test", releaseScript, a.keys[0], []string{a.verStr, id, r.channel, stockMsg("half", 0)}); code != 1 || err != nil {
							t.Fatalf("release.lua = %d, %v", code, err)
						}
					}
					// The release has begun: the payment is refused.
					mustPaid(t, s, "half", u, d.Seq, PaidTooLate)
					if c := mustCounts(t, s, "half"); c.Held != 1 || c.ReleasedUnpaid != 0 {
						t.Fatalf("half-way counts %+v, want still held, not yet released", c)
					}
					other := another()
					// A gateway warms its activities at start (autoWarm): that
					// is how its sweeper knows them.
					mustWarm(t, other, Spec{Activity: "half", Stock: 1, Shards: 2, PerUser: 1, PayWithin: time.Minute}, false)
					mustSweep(t, other) // the numbers below say what it released
					if n := mustSweep(t, s); n != 0 {
						t.Fatalf("a further sweep released %d more", n)
					}
					wantPay(t, mustCounts(t, s, "half"), 1, 0, 0, 1)
					mustPaid(t, s, "half", u, d.Seq, PaidTooLate)
					mustTake(t, other, "half", "next", Admitted)
					mustTake(t, other, "half", "after", SoldOut)
				})
			}
		})
	}
}

// TestReconciledHoldGetsDeadline: a Take that died between the borrow and
// settle.lua is held by Reconcile, which records the deadline in the same
// step, so the unit is not held unpaid for ever.
func TestReconciledHoldGetsDeadline(t *testing.T) {
	clk := newTestClock()
	s, _ := payTopo(t, standaloneTopo)(t, clk)
	r := s.(*RedisStore)
	mustWarm(t, s, Spec{Activity: "rec", Stock: 1, Shards: 2, PerUser: 1, PayWithin: time.Minute}, false)
	u := usersHomedAt(1, 1, 2)[0]
	a, err := r.act(testCtx(t, 5*time.Second), "rec")
	if err != nil || a == nil {
		t.Fatalf("act: %v", err)
	}
	ctx := testCtx(t, 10*time.Second)
	v, err := r.run(ctx, "take", takeScript, a.keys[1], []string{a.verStr, u, "1", newAttempt(), a.puStr, "", r.dueArg(a)})
	if err != nil || v&7 != codeBorrow {
		t.Fatalf("take.lua = %d, %v; want borrow", v&7, err)
	}
	id := orderID(v>>3, u)
	if code, err := r.run(ctx, "borrow", borrowScript, a.keys[0], []string{a.verStr, id}); code != codeAdmitted || err != nil {
		t.Fatalf("borrow.lua = %d, %v", code, err)
	}
	// The Take dies here. Reconcile holds the unit, with its deadline.
	if n, err := r.reconcile(ctx, 0); n != 1 || err != nil {
		t.Fatalf("reconcile = %d, %v; want 1", n, err)
	}
	wantPay(t, mustCounts(t, s, "rec"), 0, 1, 0, 0)
	clk.add(time.Minute)
	mustSweep(t, s) // the numbers below say what it released
	wantPay(t, mustCounts(t, s, "rec"), 1, 0, 0, 1)
}

// TestSyncLoopSweeps: the background sweep of an instance that never sold
// or warmed the activity (it was only told of it, as the gateway does at
// build) gives the due units back.
func TestSyncLoopSweeps(t *testing.T) {
	for _, tp := range allTopos {
		t.Run(tp.String(), func(t *testing.T) {
			clk := newTestClock()
			s, another := payTopo(t, tp)(t, clk)
			sweeper := s
			if m, ok := s.(*memoryStore); ok {
				m.sweeper.every = 20 * time.Millisecond
			}
			if another != nil {
				r := another()
				sweeper = newRedisStore(t, r.c, func(o *RedisOptions) {
					o.Now, o.SyncInterval, o.Prefix = clk.now, 20*time.Millisecond, r.prefix
				})
			}
			mustWarm(t, s, Spec{Activity: "bg", Stock: 2, Shards: 2, PerUser: 1, PayWithin: time.Second}, false)
			if tr, ok := sweeper.(Tracker); ok {
				tr.Track("bg") // as the gateway does at build: this instance never touched "bg"
			}
			mustTake(t, s, "bg", "alice", Admitted)
			mustTake(t, s, "bg", "bob", Admitted)
			clk.add(time.Second)
			eventually(t, 10*time.Second, "background sweep", func() bool {
				c, err := s.Counts(context.Background(), "bg")
				return err == nil && c.ReleasedUnpaid == 2 && c.Left == 2
			})
		})
	}
}
