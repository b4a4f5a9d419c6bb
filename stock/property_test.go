package stock

import (
	"context"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestTakeProperty hammers every backend with more demand than stock and
// checks the three invariants at once: never oversell, never more than
// PerUser per user, no undersell (admitted is exactly what demand allows).
// On the cluster it also proves that no script touches two slots: the
// cluster refuses such a script, and every step runs here.
func TestTakeProperty(t *testing.T) {
	const (
		users   = 2000
		tries   = 3
		workers = 32
		shards  = 8
	)
	stocks := []int64{7, 50, 200, 3000} // the last one outlasts demand at PerUser=1
	for _, tp := range allTopos {
		t.Run(tp.String(), func(t *testing.T) {
			for _, perUser := range []int64{1, 2} {
				t.Run("per_user="+strconv.FormatInt(perUser, 10), func(t *testing.T) {
					s, _ := open(t, tp)
					acts := make([]string, len(stocks))
					for i, n := range stocks {
						acts[i] = "prop" + strconv.Itoa(i)
						mustWarm(t, s, Spec{Activity: acts[i], Stock: n, Shards: shards, PerUser: perUser}, false)
					}
					// Every (activity, user) pair tries `tries` times, in a
					// shuffled order, so one user's attempts race each other
					// on different goroutines.
					type attempt struct{ act, user int }
					var plan []attempt
					for a := range acts {
						for u := range users {
							for range tries {
								plan = append(plan, attempt{a, u})
							}
						}
					}
					rng := rand.New(rand.NewPCG(1, uint64(perUser)))
					rng.Shuffle(len(plan), func(i, j int) { plan[i], plan[j] = plan[j], plan[i] })
					names := make([][]byte, users)
					for u := range names {
						names[u] = []byte("u" + strconv.Itoa(u))
					}

					ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
					defer cancel()
					var (
						next     atomic.Int64
						borrowed atomic.Int64 // admitted off the user's home shard
						mu       sync.Mutex
						seqs     = make([]map[int][]int64, len(acts)) // act -> user -> seqs
						failed   atomic.Value
						wg       sync.WaitGroup
					)
					for a := range seqs {
						seqs[a] = make(map[int][]int64)
					}
					for range workers {
						wg.Add(1)
						go func() {
							defer wg.Done()
							for {
								i := next.Add(1) - 1
								if i >= int64(len(plan)) || ctx.Err() != nil {
									return
								}
								p := plan[i]
								d, err := s.Take(ctx, acts[p.act], names[p.user])
								if err != nil {
									failed.CompareAndSwap(nil, err)
									return
								}
								if d.Result == Admitted {
									if d.Shard != homeShard(names[p.user], shards) {
										borrowed.Add(1)
									}
									mu.Lock()
									seqs[p.act][p.user] = append(seqs[p.act][p.user], d.Seq)
									mu.Unlock()
								}
							}
						}()
					}
					wg.Wait()
					if err, _ := failed.Load().(error); err != nil {
						t.Fatalf("Take: %v", err)
					}
					if ctx.Err() != nil {
						t.Fatalf("sale did not finish in time: %d of %d attempts", next.Load(), len(plan))
					}

					if borrowed.Load() == 0 {
						t.Errorf("no unit was borrowed from another shard: the borrow path went untested")
					}
					t.Logf("%d attempts, %d admitted off the home shard", len(plan), borrowed.Load())
					for a, stock := range stocks {
						demand := int64(users) * min(perUser, tries)
						want := min(stock, demand)
						var admitted int64
						for u, ss := range seqs[a] {
							admitted += int64(len(ss))
							if int64(len(ss)) > perUser {
								t.Errorf("%s: user %d admitted %d times, per_user %d", acts[a], u, len(ss), perUser)
							}
							seen := map[int64]bool{}
							for _, q := range ss {
								if seen[q] || q <= 0 {
									t.Errorf("%s: user %d got seq %d twice (or <= 0): %v", acts[a], u, q, ss)
								}
								seen[q] = true
							}
						}
						if admitted != want {
							t.Errorf("%s: admitted %d, want min(stock %d, demand %d) = %d", acts[a], admitted, stock, demand, want)
						}
						mustLeft(t, s, acts[a], stock-admitted)
						if soldOut := s.SoldOut(acts[a]); soldOut != (demand > stock) {
							t.Errorf("%s: SoldOut = %v with stock %d, demand %d", acts[a], soldOut, stock, demand)
						}
						if r, ok := s.(*RedisStore); ok {
							checkLedgers(t, r, acts[a], shards, admitted)
						}
					}
				})
			}
		})
	}
}

// checkLedgers reads the Redis state back: the held counts, the held marks
// and the live order records each add up to what was admitted, and no
// pending mark is left behind.
func checkLedgers(t *testing.T, r *RedisStore, activity string, shards int, admitted int64) {
	t.Helper()
	l := readLedgers(t, r, activity, shards)
	if l.counts != admitted || l.held != admitted || l.live != admitted || l.pend != 0 {
		t.Errorf("%s: ledgers count %d, held %d, live orders %d, pending %d; admitted %d",
			activity, l.counts, l.held, l.live, l.pend, admitted)
	}
	// Every held unit keeps its attempt record both ways, and nothing else
	// does; fences only come from unknown outcomes, which checkLedgers'
	// callers do not produce.
	if l.att != admitted || l.fences != 0 {
		t.Errorf("%s: attempt records %d (want %d), fences %d (want 0)", activity, l.att, admitted, l.fences)
	}
}

// ledgers are an activity's Redis ledgers summed over its shards.
type ledgers struct {
	counts int64 // purchases holding an allowance (entries of the ledger records)
	held   int64 // of those, held on a shard (not pending)
	live   int64 // units taken and not given back: held home entries and live order records
	pend   int64 // pending marks
	att    int64 // attempt ids on record (one per entry)
	fences int64 // fenced attempts
}

func readLedgers(t *testing.T, r *RedisStore, activity string, shards int) ledgers {
	t.Helper()
	ctx := testCtx(t, 10*time.Second)
	var l ledgers
	for i := range shards {
		k := shardKeys(r.prefix, activity, i)
		m, err := r.c.Do(ctx, r.c.B().Hgetall().Key(k[kState]).Build()).AsStrMap()
		if err != nil {
			t.Fatal(err)
		}
		for f, v := range m {
			switch {
			case strings.HasPrefix(f, "u"):
				for _, e := range strings.Split(v, ";")[1:] {
					p := strings.Split(e, ",")
					if len(p) != 3 {
						t.Fatalf("shard %d: record %s = %q: malformed entry %q", i, f, v, e)
					}
					l.counts++
					l.att++
					if p[2] != "p" {
						l.held++
					}
					if p[2] == strconv.Itoa(i) {
						l.live++
					}
				}
			case strings.HasPrefix(f, "o") && v == "1":
				l.live++
			}
		}
		fences, err := r.c.Do(ctx, r.c.B().Zcard().Key(k[kFence]).Build()).AsInt64()
		if err != nil {
			t.Fatal(err)
		}
		if f, _ := strconv.ParseInt(m["f"], 10, 64); len(m) > 0 && f != fences {
			t.Errorf("shard %d: fence count f = %d, fence set holds %d", i, f, fences)
		}
		l.fences += fences
		pend, err := r.c.Do(ctx, r.c.B().Zcard().Key(k[kPend]).Build()).AsInt64()
		if err != nil {
			t.Fatal(err)
		}
		l.pend += pend
	}
	return l
}
