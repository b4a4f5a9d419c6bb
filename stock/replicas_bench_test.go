package stock

import (
	"context"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/flashgate/flashgate/internal/redistest"
)

// BenchmarkRedisWait measures what WaitReplicas 1 costs an async Take
// (TakeOrder, a 256-byte order) on loopback, a master and one replica on
// the same 2 shared cores: off, and on with rueidis's blocking pool (where
// a batch holding WAIT goes, one Take per connection at a time) of 4
// connections (the gateway's size with the wait off) and 64 (its size
// with the wait on, internal/redisconn).
func BenchmarkRedisWait(b *testing.B) {
	ctx := context.Background()
	master := redistest.Start(b)
	redistest.StartReplica(b, master)
	order := make([]byte, 256)
	for i := range order {
		order[i] = 'o'
	}
	var id atomic.Int64
	for i, tc := range []struct {
		name     string
		replicas int
		pool     int
	}{
		{"off", 0, 4},
		{"wait1/pool4", 1, 4},
		{"wait1/pool16", 1, 16},
		{"wait1/pool64", 1, 64},
		{"wait1/pool256", 1, 256},
	} {
		b.Run(tc.name, func(b *testing.B) {
			c, err := rueidis.NewClient(rueidis.ClientOption{
				InitAddress: []string{master.Addr()}, DisableCache: true,
				ConnWriteTimeout: 6 * time.Second, Dialer: net.Dialer{Timeout: time.Second},
				BlockingPoolSize: tc.pool, PipelineMultiplex: 2,
			})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			// Generous bounds: the benchmark measures throughput, not how a
			// starved pair of servers misses a deadline.
			r := newRedisStore(b, c, func(o *RedisOptions) {
				o.Timeout, o.WaitReplicas, o.WaitTimeout = 5*time.Second, tc.replicas, time.Second
			})
			act := "bw" + strconv.Itoa(i)
			mustWarm(b, r, Spec{Activity: act, Stock: 1 << 40, Shards: 8, PerUser: 1}, false)
			take := func(buf []byte) []byte {
				buf = nextUser(buf, &id)
				if d, err := r.TakeOrder(ctx, act, buf, order); err != nil || d.Result != Admitted {
					b.Fatalf("TakeOrder = %v, %v", d.Result, err)
				}
				return buf
			}
			// serial: one Take at a time, its latency; parallel: 32
			// goroutines on 2 cores (as BenchmarkRedisTake), throughput.
			b.Run("serial", func(b *testing.B) {
				b.ReportAllocs()
				buf := make([]byte, 0, 32)
				for range b.N {
					buf = take(buf)
				}
			})
			b.Run("parallel", func(b *testing.B) {
				b.ReportAllocs()
				b.SetParallelism(16)
				b.RunParallel(func(pb *testing.PB) {
					buf := make([]byte, 0, 32)
					for pb.Next() {
						buf = take(buf)
					}
				})
			})
		})
	}
}
