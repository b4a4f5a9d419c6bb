package stock

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flashgate/flashgate/internal/redistest"
)

// nextUser appends a fresh user name to buf, without allocating.
func nextUser(buf []byte, id *atomic.Int64) []byte {
	return strconv.AppendInt(append(buf[:0], "user-"...), id.Add(1), 10)
}

func BenchmarkMemoryTake(b *testing.B) {
	ctx := context.Background()
	b.Run("admitted/new-user", func(b *testing.B) {
		m := NewMemory()
		mustWarm(b, m, Spec{Activity: "bench", Stock: 1 << 40, Shards: 8, PerUser: 1}, false)
		var id atomic.Int64
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			buf := make([]byte, 0, 32)
			for pb.Next() {
				buf = nextUser(buf, &id)
				if d, _ := m.Take(ctx, "bench", buf); d.Result != Admitted {
					b.Fatalf("Take = %v", d.Result)
				}
			}
		})
	})
	b.Run("admitted/known-user+release", func(b *testing.B) {
		m := NewMemory()
		mustWarm(b, m, Spec{Activity: "bench", Stock: 1 << 40, Shards: 8, PerUser: 1}, false)
		var id atomic.Int64
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			user := nextUser(nil, &id) // one user per goroutine, already known after the first op
			for pb.Next() {
				d, _ := m.Take(ctx, "bench", user)
				if d.Result != Admitted {
					b.Fatalf("Take = %v", d.Result)
				}
				_, _ = m.Release(ctx, "bench", user, d.Seq)
			}
		})
	})
	b.Run("limit-reached", func(b *testing.B) {
		m := NewMemory()
		mustWarm(b, m, Spec{Activity: "bench", Stock: 1 << 40, Shards: 8, PerUser: 1}, false)
		mustTake(b, m, "bench", "alice", Admitted)
		user := []byte("alice")
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_, _ = m.Take(ctx, "bench", user)
			}
		})
	})
	b.Run("sold-out", func(b *testing.B) {
		m := NewMemory()
		mustWarm(b, m, Spec{Activity: "bench", Stock: 0, Shards: 8, PerUser: 1}, false)
		var id atomic.Int64
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			buf := make([]byte, 0, 32)
			for pb.Next() {
				buf = nextUser(buf, &id)
				if d, _ := m.Take(ctx, "bench", buf); d.Result != SoldOut {
					b.Fatalf("Take = %v", d.Result)
				}
			}
		})
	})
}

func BenchmarkRedisTake(b *testing.B) {
	ctx := context.Background()
	srv := redistest.Start(b)
	// A generous bound: on a shared 2-core machine the benchmark measures
	// throughput, not how a starved redis-server misses a 100ms deadline.
	r := newRedisStore(b, newClient(b, srv.Addr()), func(o *RedisOptions) { o.Timeout = 5 * time.Second })
	mustWarm(b, r, Spec{Activity: "bench", Stock: 1 << 40, Shards: 8, PerUser: 1}, false)
	mustWarm(b, r, Spec{Activity: "gone", Stock: 0, Shards: 8, PerUser: 1}, false)
	mustTake(b, r, "gone", "alice", SoldOut)
	var id atomic.Int64
	run := func(b *testing.B, act string, want Result, fresh bool) {
		b.ReportAllocs()
		b.SetParallelism(16) // 32 goroutines on 2 cores: auto-pipelining at work
		b.RunParallel(func(pb *testing.PB) {
			buf := nextUser(make([]byte, 0, 32), &id)
			for pb.Next() {
				if fresh {
					buf = nextUser(buf, &id)
				}
				d, err := r.Take(ctx, act, buf)
				if err != nil || d.Result != want {
					b.Fatalf("Take = %v, %v; want %v", d.Result, err, want)
				}
			}
		})
	}
	b.Run("admitted", func(b *testing.B) { run(b, "bench", Admitted, true) })
	b.Run("limit-reached", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(16)
		b.RunParallel(func(pb *testing.PB) {
			user := nextUser(nil, &id)
			_, _ = r.Take(ctx, "bench", user) // now holds its one unit
			for pb.Next() {
				if d, err := r.Take(ctx, "bench", user); err != nil || d.Result != LimitReached {
					b.Fatalf("Take = %v, %v", d.Result, err)
				}
			}
		})
	})
	b.Run("sold-out-local", func(b *testing.B) { run(b, "gone", SoldOut, true) })
}

func BenchmarkSoldOut(b *testing.B) {
	m := NewMemory()
	mustWarm(b, m, Spec{Activity: "gone", Stock: 0, Shards: 1024, PerUser: 1}, false)
	mustTake(b, m, "gone", "alice", SoldOut)
	r := &RedisStore{}
	a := &redisAct{name: "gone", shards: 8, empty: newEmptySet(8)}
	for i := range 8 {
		a.empty.set(i)
	}
	acts := map[string]*redisAct{"gone": a}
	r.acts.Store(&acts)
	for _, tc := range []struct {
		name string
		s    Store
	}{{"memory-1024-shards", m}, {"redis-8-shards", r}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if !tc.s.SoldOut("gone") {
						b.Fatal("not sold out")
					}
				}
			})
		})
	}
}
