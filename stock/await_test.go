package stock

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flashgate/flashgate/internal/redistest"
)

// TestAbandonedTake is the end-to-end bug: Redis hangs with Takes already
// written to it, their callers give up (503, retry) and Redis then runs
// them. The units must come back and the callers must be able to buy.
func TestAbandonedTake(t *testing.T) {
	srv := redistest.Start(t)
	t.Cleanup(srv.Resume) // before the Kill registered by Start: never leave it stopped
	c := newClient(t, srv.Addr())
	const stock, paused = 10, 5
	tests := []struct {
		name     string
		edit     func(*RedisOptions)
		borrow   bool          // the paused users' home shard is empty
		deadline time.Duration // the callers' ctx; 0: context.Background()
		pause    time.Duration // how long Redis stays stopped
		settled  bool          // the background completes (no abandon.lua)
	}{
		{"caller deadline", nil, false, 100 * time.Millisecond, 300 * time.Millisecond, true},
		{"store Timeout", func(o *RedisOptions) { o.Timeout = 100 * time.Millisecond }, false, 0, 300 * time.Millisecond, true},
		{"borrowed", nil, true, 100 * time.Millisecond, 300 * time.Millisecond, true},
		{"past SettleTimeout", func(o *RedisOptions) {
			o.Timeout, o.SettleTimeout, o.SyncInterval = 100*time.Millisecond, 300*time.Millisecond, 100*time.Millisecond
		}, false, 100 * time.Millisecond, time.Second, false},
		{"past SettleTimeout, borrowed", func(o *RedisOptions) {
			o.Timeout, o.SettleTimeout, o.SyncInterval = 100*time.Millisecond, 300*time.Millisecond, 100*time.Millisecond
		}, true, 100 * time.Millisecond, time.Second, false},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRedisStore(t, c, tc.edit)
			act := "abandon" + strconv.Itoa(i)
			mustWarm(t, r, Spec{Activity: act, Stock: stock, Shards: 2, PerUser: 1}, false)
			prime(t, r, act)
			var admitted int64
			users := make([]string, paused)
			for j := range users {
				users[j] = "paused-" + strconv.Itoa(j)
			}
			if tc.borrow {
				homed := usersHomedAt(stock/2+paused, 0, 2)
				for _, u := range homed[:stock/2] { // drain shard 0
					if d := buy(t, r, act, u); d.Shard != 0 {
						t.Fatalf("%s bought on shard %d, want 0", u, d.Shard)
					}
					admitted++
				}
				users = homed[stock/2:]
			}
			left := stock - admitted

			srv.Pause()
			start := time.Now()
			for j, err := range takeAll(t, r, act, users, tc.deadline) {
				if !isUnavailable(err) {
					t.Errorf("Take(%s) during the pause = %v, want ErrUnavailable", users[j], err)
				}
			}
			t.Logf("%d Takes gave up after %v", len(users), time.Since(start))
			time.Sleep(tc.pause - time.Since(start))
			srv.Resume()

			waitLeft(t, r, act, left, 2*time.Second)
			waitQuiet(t, r, 2*time.Second)
			st := r.Stats()
			t.Logf("stats after the pause: %+v", st)
			if st.Abandoned != paused || st.Unresolved != 0 || st.Lost != 0 {
				t.Errorf("stats = %+v, want %d abandoned, none unresolved or lost", st, paused)
			}
			if tc.settled && st.Compensated != paused {
				t.Errorf("compensated %d, want %d: every paused Take admitted a unit", st.Compensated, paused)
			}
			for _, u := range users { // told "busy", they retry and buy
				buy(t, r, act, u)
				admitted++
			}
			for j := 0; admitted < stock && j < 2*stock; j++ {
				buy(t, r, act, "late-"+strconv.Itoa(j))
				admitted++
			}
			mustTake(t, r, act, "too-late", SoldOut)
			mustLeft(t, r, act, 0)
			if admitted != stock {
				t.Errorf("admitted %d over the test, want the stock %d", admitted, stock)
			}
			l := readLedgers(t, r, act, 2)
			if l.counts != stock || l.held != stock || l.live != stock || l.pend != 0 || l.att != stock {
				t.Errorf("ledgers %+v, want %d held units with their attempt records", l, stock)
			}
			if tc.settled && l.fences != 0 {
				t.Errorf("%d fences, want none: no outcome was unknown", l.fences)
			}
		})
	}
}

// TestAbandonShed: with MaxSettling in flight, a Take fails at once and
// sends nothing, so a hung Redis does not pile up work.
func TestAbandonShed(t *testing.T) {
	srv := redistest.Start(t)
	t.Cleanup(srv.Resume)
	r := newRedisStore(t, newClient(t, srv.Addr()), func(o *RedisOptions) { o.MaxSettling = 2 })
	mustWarm(t, r, Spec{Activity: "shed", Stock: 10, Shards: 2, PerUser: 1}, false)
	prime(t, r, "shed")
	srv.Pause()
	for j, err := range takeAll(t, r, "shed", []string{"a", "b"}, 100*time.Millisecond) {
		if !isUnavailable(err) {
			t.Fatalf("Take %d = %v, want ErrUnavailable", j, err)
		}
	}
	for _, u := range []string{"c", "d", "e"} {
		_, err := r.Take(context.Background(), "shed", []byte(u))
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Take(%s) with 2 in flight = %v, want ErrUnavailable", u, err)
		}
	}
	srv.Resume()
	if st := r.Stats(); st.Shed != 3 || st.Abandoned != 2 {
		t.Errorf("stats = %+v, want 3 shed, 2 abandoned", st)
	}
	waitLeft(t, r, "shed", 10, 2*time.Second)
	for _, u := range []string{"a", "b", "c", "d", "e"} {
		buy(t, r, "shed", u)
	}
	mustLeft(t, r, "shed", 5)

	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Take(context.Background(), "shed", []byte("f")); !isUnavailable(err) {
		t.Errorf("Take after Close = %v, want ErrUnavailable", err)
	}
}

// TestAbandonHammer gives every Take a deadline of a few milliseconds, so
// that callers give up all the time, at every step and in every race with
// the background completion. Once things settle, every unit is either
// with a caller who was told Admitted or back on the shelf.
func TestAbandonHammer(t *testing.T) {
	srv := redistest.Start(t)
	r := newRedisStore(t, newClient(t, srv.Addr()), nil)
	const (
		stock   = 40
		shards  = 4
		users   = 400
		workers = 8
	)
	mustWarm(t, r, Spec{Activity: "hammer", Stock: stock, Shards: shards, PerUser: 1}, false)
	prime(t, r, "hammer")

	var (
		mu        sync.Mutex
		todo      = make([]string, users)
		got       = map[string]int64{} // user -> seq, for units the caller was told of
		calls     atomic.Int64
		failed    atomic.Value
		wg        sync.WaitGroup
		gaveUp    atomic.Int64
		exhausted atomic.Bool
	)
	for i := range todo {
		todo[i] = "h" + strconv.Itoa(i)
	}
	next := func() (string, bool) {
		mu.Lock()
		defer mu.Unlock()
		if len(todo) == 0 {
			return "", false
		}
		u := todo[0]
		todo = todo[1:]
		return u, true
	}
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for calls.Load() < 200000 { // bounded; the sale ends far sooner
				u, ok := next()
				if !ok {
					return
				}
				calls.Add(1)
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(20+rng.IntN(800))*time.Microsecond)
				d, err := r.Take(ctx, "hammer", []byte(u))
				cancel()
				mu.Lock()
				_, had := got[u]
				switch {
				case err != nil && !isUnavailable(err):
					failed.CompareAndSwap(nil, err)
				case err != nil, d.Result == LimitReached && !had:
					// Busy, or an abandoned unit not given back yet: retry.
					gaveUp.Add(1)
					todo = append(todo, u)
				case d.Result == Admitted && had:
					failed.CompareAndSwap(nil, errors.New(u+" admitted twice"))
				case d.Result == Admitted:
					got[u] = d.Seq
				}
				mu.Unlock()
			}
			exhausted.Store(true)
		}()
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		t.Fatal(err)
	}
	if exhausted.Load() {
		t.Fatalf("sale did not finish in %d calls", calls.Load())
	}
	waitQuiet(t, r, 10*time.Second)
	st := r.Stats()
	t.Logf("%d calls, %d gave up, %d admitted to a caller; stats %+v", calls.Load(), gaveUp.Load(), len(got), st)
	if st.Abandoned == 0 {
		t.Error("no caller gave up: the test exercised nothing")
	}
	told := int64(len(got))
	mustLeft(t, r, "hammer", stock-told)
	checkLedgers(t, r, "hammer", shards, told)

	// What the crowd was told SoldOut about while units were on their way
	// back is now for sale, and sells to the end.
	for j := 0; told < stock && j < stock; j++ {
		buy(t, r, "hammer", "late-"+strconv.Itoa(j))
		told++
	}
	mustTake(t, r, "hammer", "too-late", SoldOut)
	if told != stock {
		t.Errorf("admitted %d in all, want the stock %d", told, stock)
	}
	checkLedgers(t, r, "hammer", shards, stock)
}

// takeAll runs one Take per user at once, each with its own deadline
// (none if 0), and returns their errors once all have returned.
func takeAll(t *testing.T, s Store, act string, users []string, deadline time.Duration) []error {
	t.Helper()
	errs := make([]error, len(users))
	done := make(chan struct{})
	var wg sync.WaitGroup
	for j, u := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			if deadline > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, deadline)
				defer cancel()
			}
			_, errs[j] = s.Take(ctx, act, []byte(u))
		}()
	}
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second): // far beyond any bound: a hang
		t.Fatal("Takes against a stopped Redis did not return")
	}
	return errs
}

// buy takes a unit for user, retrying while the store is busy (its Timeout
// may be short) or while an abandoned unit of the user is on its way back.
func buy(t *testing.T, s Store, act, user string) Decision {
	t.Helper()
	var last string
	for start := time.Now(); time.Since(start) < 5*time.Second; time.Sleep(20 * time.Millisecond) {
		d, err := s.Take(testCtx(t, 5*time.Second), act, []byte(user))
		switch {
		case err == nil && d.Result == Admitted:
			return d
		case err == nil && d.Result != LimitReached:
			t.Fatalf("Take(%s, %s) = %v, want admitted", act, user, d.Result)
		case err != nil && !isUnavailable(err):
			t.Fatalf("Take(%s, %s): %v", act, user, err)
		case err != nil:
			last = err.Error()
		default:
			last = d.Result.String()
		}
	}
	t.Fatalf("Take(%s, %s) never admitted; last %s", act, user, last)
	return Decision{}
}

// prime caches act's spec, as a serving gateway has: a Take of a spec not
// cached reads it first, on the caller's time, and that read is not what
// these tests pause.
func prime(t *testing.T, r *RedisStore, act string) {
	t.Helper()
	if a, err := r.act(testCtx(t, 5*time.Second), act); err != nil || a == nil {
		t.Fatalf("spec of %s: %v, %v", act, a, err)
	}
}

// waitLeft polls Left until it reports want.
func waitLeft(t *testing.T, s Store, act string, want int64, within time.Duration) {
	t.Helper()
	var got int64
	var err error
	took := eventually(t, within, "Left back to "+strconv.FormatInt(want, 10), func() bool {
		got, err = s.Left(context.Background(), act)
		return err == nil && got == want
	})
	t.Logf("Left back to %d after %v", want, took)
}

// waitQuiet waits until no Take is in flight and no outcome is unresolved.
func waitQuiet(t *testing.T, r *RedisStore, within time.Duration) {
	t.Helper()
	eventually(t, within, "background Takes settled", func() bool {
		return r.settling.Load() == 0 && r.queue.len() == 0
	})
}
