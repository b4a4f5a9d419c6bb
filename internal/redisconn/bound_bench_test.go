package redisconn

import (
	"context"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/flashgate/flashgate/internal/redistest"
)

// BenchmarkDo prices Bound: one GET under a 100 ms deadline, as the
// request path makes it, on a client from Open (bounded) and on the same
// rueidis client unwrapped (raw), one caller at a time and from parallel
// callers (auto-pipelined). The difference is the goroutine and the
// select of each call; it is in the README figures of the frozen-Redis
// test.
func BenchmarkDo(b *testing.B) {
	rs := redistest.Start(b)
	bc := open(b, rs.Addr())
	raw := bc.(*bounded).Client
	if err := raw.Do(context.Background(), raw.B().Set().Key("k").Value("v").Build()).Error(); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		c    rueidis.Client
	}{{"raw", raw}, {"bounded", bc}} {
		get := func() {
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			err := c.c.Do(ctx, c.c.B().Get().Key("k").Build()).Error()
			cancel()
			if err != nil {
				b.Fatal(err)
			}
		}
		b.Run(c.name+"/serial", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				get()
			}
		})
		b.Run(c.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					get()
				}
			})
		})
	}
}
