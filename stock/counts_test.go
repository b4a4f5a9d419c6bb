package stock

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flashgate/flashgate/internal/redisfence"
	"github.com/flashgate/flashgate/internal/redistest"
)

func mustCounts(t testing.TB, s Store, activity string) Counts {
	t.Helper()
	c, err := s.Counts(testCtx(t, 5*time.Second), activity)
	if err != nil {
		t.Fatalf("Counts(%s): %v", activity, err)
	}
	return c
}

// TestCountsTransitions walks one sale through every transition that
// changes its numbers and checks them after each, on every store: the
// numbers must be what the store holds, the moment it holds them.
func TestCountsTransitions(t *testing.T) {
	for _, tp := range allTopos {
		t.Run(tp.String(), func(t *testing.T) {
			s, another := open(t, tp)
			ctx := testCtx(t, 30*time.Second)
			if _, err := s.Counts(ctx, "nums"); !errors.Is(err, ErrNotLoaded) {
				t.Fatalf("Counts before Warm: %v, want ErrNotLoaded", err)
			}
			spec := Spec{Activity: "nums", Stock: 3, Shards: 2, PerUser: 1}
			mustWarm(t, s, spec, false)
			check := func(step string, want Counts) {
				t.Helper()
				if got := mustCounts(t, s, "nums"); got != want {
					t.Fatalf("after %s: Counts = %+v, want %+v", step, got, want)
				}
				if another != nil {
					// Another instance that never sold reads the same.
					if got := mustCounts(t, another(), "nums"); got != want {
						t.Fatalf("after %s, other instance: Counts = %+v, want %+v", step, got, want)
					}
				}
			}
			check("warm", Counts{Loaded: 3, Total: 3, Left: 3})

			alice := mustTake(t, s, "nums", "alice", Admitted)
			mustTake(t, s, "nums", "bob", Admitted)
			check("two sales", Counts{Loaded: 3, Total: 3, Left: 1, Sold: 2})

			// Sell-out: the last unit sold, nobody turned away yet.
			mustTake(t, s, "nums", "carol", Admitted)
			check("sell-out", Counts{Loaded: 3, Total: 3, Left: 0, Sold: 3, SoldOut: true})

			if err := s.TopUp(ctx, "nums", 5); err != nil {
				t.Fatalf("TopUp: %v", err)
			}
			check("top-up", Counts{Loaded: 3, ToppedUp: 5, Total: 8, Left: 5, Sold: 3})

			if ok, err := s.Release(ctx, "nums", []byte("alice"), alice.Seq); !ok || err != nil {
				t.Fatalf("Release = %v, %v", ok, err)
			}
			check("release", Counts{Loaded: 3, ToppedUp: 5, Total: 8, Left: 6, Sold: 2})

			// Reload: a config with other stock meets a selling activity.
			// The store keeps its sale, and the numbers say so.
			changed := spec
			changed.Stock = 10
			if err := s.Warm(ctx, changed, false); !errors.Is(err, ErrExists) {
				t.Fatalf("Warm of a selling activity with another stock: %v, want ErrExists", err)
			}
			check("reload", Counts{Loaded: 3, ToppedUp: 5, Total: 8, Left: 6, Sold: 2})
			mustWarm(t, s, spec, false) // the same spec again: a no-op
			check("same warm", Counts{Loaded: 3, ToppedUp: 5, Total: 8, Left: 6, Sold: 2})

			// Re-warm: a forced load starts the numbers over, top-ups too.
			mustWarm(t, s, changed, true)
			check("re-warm", Counts{Loaded: 10, Total: 10, Left: 10})
			mustLeft(t, s, "nums", 10)
		})
	}
}

func TestNewCounts(t *testing.T) {
	tests := []struct {
		name                 string
		loaded, topped, left int64
		want                 Counts
	}{
		{"fresh", 5, 0, 5, Counts{Loaded: 5, Total: 5, Left: 5}},
		{"selling", 5, 2, 3, Counts{Loaded: 5, ToppedUp: 2, Total: 7, Left: 3, Sold: 4}},
		{"sold out", 5, 0, 0, Counts{Loaded: 5, Total: 5, Sold: 5, SoldOut: true}},
		{"empty load", 0, 0, 0, Counts{SoldOut: true}},
		{"torn read", 5, 0, 6, Counts{Loaded: 5, Total: 5, Left: 6}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := newCounts(tc.loaded, tc.topped, tc.left); got != tc.want {
				t.Errorf("newCounts(%d, %d, %d) = %+v, want %+v", tc.loaded, tc.topped, tc.left, got, tc.want)
			}
		})
	}
}

// TestTopUpFencedAgainstStalledWrites: a top-up that times out because
// the master holds its writes (CLIENT PAUSE WRITE, as a stalled or
// failing-over master would) adds nothing when the writes resume: an
// operator's retry after the 503 cannot double it.
func TestTopUpFencedAgainstStalledWrites(t *testing.T) {
	rs := redistest.Start(t)
	c := newClient(t, rs.Addr())
	s := newRedisStore(t, c, func(o *RedisOptions) { o.Timeout = 150 * time.Millisecond })
	ctx := testCtx(t, 10*time.Second)
	mustWarm(t, s, Spec{Activity: "fenced", Stock: 10, Shards: 2, PerUser: 1}, false)
	if err := c.Do(ctx, c.B().ClientPause().Timeout(1500).Write().Build()).Error(); err != nil {
		t.Fatal(err)
	}
	if err := s.TopUp(ctx, "fenced", 5); !isUnavailable(err) {
		t.Fatalf("TopUp while writes are held: %v, want unavailable", err)
	}
	time.Sleep(1700 * time.Millisecond) // the pause lapses; the held scripts run and refuse
	if got := mustCounts(t, s, "fenced"); got.ToppedUp != 0 || got.Total != 10 {
		t.Fatalf("after the pause: %+v, want nothing topped up", got)
	}
	// The script itself refuses past its deadline (the held writes above
	// never reached it: the deadline's own clock read waited with them).
	a, err := s.act(ctx, "fenced")
	if err != nil || a == nil {
		t.Fatalf("act: %v", err)
	}
	late, err := topupScript.Exec(ctx, c, a.keys[0], []string{"1", strconv.FormatInt(a.version, 10), "3", s.channel, stockMsg("fenced", 0)}).AsInt64()
	if late != redisfence.Late || err != nil {
		t.Fatalf("top-up share past its deadline: %d, %v; want Late", late, err)
	}
	if err := s.TopUp(ctx, "fenced", 5); err != nil {
		t.Fatalf("the retry: %v", err)
	}
	if got := mustCounts(t, s, "fenced"); got.ToppedUp != 5 || got.Total != 15 {
		t.Fatalf("after the retry: %+v, want 5 topped up once", got)
	}
	// A shard lost (evicted, or behind after a failover): the other's
	// share lands, and the 503 (not a 409: the sale is loaded) says so.
	if err := c.Do(ctx, c.B().Del().Key(a.keys[1][kState]).Build()).Error(); err != nil {
		t.Fatal(err)
	}
	err = s.TopUp(ctx, "fenced", 4)
	if !isUnavailable(err) || errors.Is(err, ErrNotLoaded) || !strings.Contains(err.Error(), "of the 4 units 2 were added, 2 were not (and will not be), 0 unknown") {
		t.Fatalf("TopUp with a shard lost: %v, want unavailable, saying 2 of 4 added", err)
	}
}
