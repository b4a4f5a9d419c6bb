//go:build !race

package stock

import (
	"context"
	"testing"
	"time"
)

// TestMemoryAllocs asserts the memory store's hot paths allocate nothing
// once the user is in the ledger, and that SoldOut never does.
func TestMemoryAllocs(t *testing.T) {
	ctx := context.Background()
	m := NewMemory()
	mustWarm(t, m, Spec{Activity: "alloc", Stock: 1000, Shards: 8, PerUser: 2}, false)
	mustWarm(t, m, Spec{Activity: "gone", Stock: 0, Shards: 8, PerUser: 1}, false)
	mustWarm(t, m, Spec{Activity: "pay", Stock: 1000, Shards: 8, PerUser: 2, PayWithin: time.Minute}, false)
	t.Cleanup(func() { _ = m.Close() })
	user := []byte("alice")
	mustTake(t, m, "alloc", "alice", Admitted) // alice joins the ledger
	mustTake(t, m, "gone", "alice", SoldOut)
	mustTake(t, m, "pay", "alice", Admitted)

	tests := []struct {
		name string
		f    func()
	}{
		{"take admitted then release, user in ledger", func() {
			d, _ := m.Take(ctx, "alloc", user)
			_, _ = m.Release(ctx, "alloc", user, d.Seq)
		}},
		{"take limit reached", func() {
			d, _ := m.Take(ctx, "alloc", user)
			_, _ = m.Take(ctx, "alloc", user) // holds 2 of 2
			_, _ = m.Release(ctx, "alloc", user, d.Seq)
		}},
		{"take with pay_within, paid, release", func() {
			d, _ := m.Take(ctx, "pay", user)
			_, _ = m.Paid(ctx, "pay", user, d.Seq)
			_, _ = m.Release(ctx, "pay", user, d.Seq)
		}},
		{"take sold out", func() { _, _ = m.Take(ctx, "gone", user) }},
		{"take not loaded", func() { _, _ = m.Take(ctx, "nope", user) }},
		{"sold out check", func() { _ = m.SoldOut("gone") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if n := testing.AllocsPerRun(1000, tc.f); n != 0 {
				t.Errorf("%v allocs per run, want 0", n)
			}
		})
	}
}

func TestRedisSoldOutAllocs(t *testing.T) {
	r := &RedisStore{}
	a := &redisAct{name: "x", shards: 3, empty: newEmptySet(3)}
	for i := range 3 {
		a.empty.set(i)
	}
	acts := map[string]*redisAct{"x": a}
	r.acts.Store(&acts)
	if n := testing.AllocsPerRun(1000, func() { _ = r.SoldOut("x") }); n != 0 {
		t.Errorf("SoldOut: %v allocs, want 0", n)
	}
	if n := testing.AllocsPerRun(1000, func() { _, _ = r.Take(context.Background(), "x", []byte("u")) }); n != 0 {
		t.Errorf("Take on a known sold-out activity: %v allocs, want 0", n)
	}
}
