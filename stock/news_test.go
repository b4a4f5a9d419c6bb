package stock

import (
	"testing"
	"time"

	"github.com/flashgate/flashgate/internal/redistest"
)

// TestSoldOutNews checks each way a second instance stops believing an
// activity is sold out, alone: pub/sub (the sync loop is off), and the sync
// loop (the stock comes back without a message, as when one is lost).
func TestSoldOutNews(t *testing.T) {
	srv := redistest.Start(t)
	first := newRedisStore(t, newClient(t, srv.Addr()), nil)
	tests := []struct {
		name   string
		edit   func(*RedisOptions)
		refill func(t *testing.T, act string)
	}{
		{"pub/sub only", func(o *RedisOptions) { o.SyncInterval = time.Hour }, func(t *testing.T, act string) {
			if err := first.TopUp(testCtx(t, 5*time.Second), act, 1); err != nil {
				t.Fatal(err)
			}
		}},
		{"sync loop only", nil, func(t *testing.T, act string) {
			k := shardKeys(first.prefix, act, 1)[kState]
			if err := first.c.Do(testCtx(t, 5*time.Second), first.c.B().Hincrby().Key(k).Field("s").Increment(1).Build()).Error(); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			act := "news" + string(rune('a'+i))
			second := newRedisStore(t, newClient(t, srv.Addr()), tc.edit)
			eventually(t, 5*time.Second, "subscribed", second.subscribed.Load)
			mustWarm(t, first, Spec{Activity: act, Stock: 0, Shards: 2, PerUser: 1}, false)
			mustTake(t, second, act, "alice", SoldOut)
			if !second.SoldOut(act) {
				t.Fatal("not SoldOut after a SoldOut answer")
			}
			tc.refill(t, act)
			took := eventually(t, time.Second, "second instance learns of new stock", func() bool { return !second.SoldOut(act) })
			t.Logf("learned after %v", took)
			mustTake(t, second, act, "alice", Admitted)
		})
	}

	// After Redis restarts, the listener subscribes again on its own.
	second := newRedisStore(t, newClient(t, srv.Addr()), func(o *RedisOptions) { o.SyncInterval = time.Hour })
	eventually(t, 5*time.Second, "subscribed", second.subscribed.Load)
	srv.Restart(t)
	eventually(t, 5*time.Second, "re-subscribed after a restart", func() bool {
		return second.subscribed.Load() && first.Warm(testCtx(t, time.Second), Spec{Activity: "again", Stock: 0, Shards: 1, PerUser: 1}, false) == nil
	})
	mustTake(t, second, "again", "alice", SoldOut)
	// Each of first's connections from before the restart fails once (EOF)
	// before rueidis reconnects it; a write is not retried for us.
	eventually(t, 5*time.Second, "top-up after the restart", func() bool {
		return first.TopUp(testCtx(t, time.Second), "again", 1) == nil
	})
	eventually(t, time.Second, "news after the restart", func() bool { return !second.SoldOut("again") })
}

// TestSoldOutNewsCluster: in a cluster a script's PUBLISH reaches the
// subscriber wherever its connection landed; the sync loop is off, so
// only pub/sub can clear the bit.
func TestSoldOutNewsCluster(t *testing.T) {
	cl := redistest.StartCluster(t, 3)
	first := newRedisStore(t, newClient(t, cl.Addrs()...), nil)
	mustWarm(t, first, Spec{Activity: "cnews", Stock: 0, Shards: 6, PerUser: 1}, false)
	for i := range 3 { // subscribers seeded from each node
		second := newRedisStore(t, newClient(t, cl.Addrs()[i]), func(o *RedisOptions) { o.SyncInterval = time.Hour })
		eventually(t, 5*time.Second, "subscribed", second.subscribed.Load)
		mustTake(t, second, "cnews", "alice", SoldOut)
		if err := first.TopUp(testCtx(t, 5*time.Second), "cnews", 6); err != nil {
			t.Fatal(err)
		}
		eventually(t, time.Second, "news through the cluster", func() bool { return !second.SoldOut("cnews") })
		// Sell the six units again so the next round starts sold out.
		for j := range 6 {
			mustTake(t, first, "cnews", "buyer"+string(rune('a'+i))+string(rune('a'+j)), Admitted)
		}
	}
}
