package ratelimit

import (
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flashgate/flashgate/gateway"
	"github.com/flashgate/flashgate/internal/filtertest"
	"github.com/flashgate/flashgate/internal/redistest"
)

// realEnv is newEnv on the real clock, so a benchmark counts the clock
// read each decision makes.
func realEnv(acts []*gateway.Activity) *gateway.Env {
	env := newEnv("r", acts)
	env.Now = time.Now
	return env
}

func benchLocal(b *testing.B, scope string, rate float64, burst int) {
	acts := filtertest.Numbered(1)
	f := build(b, Config{Scope: scope, Rate: rate, Burst: burst}, realEnv(acts))
	r := filtertest.From(filtertest.Request(acts[0], "user-42", t0), "10.0.0.1")
	f.Handle(r)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		f.Handle(r)
	}
}

func BenchmarkLocalPassIP(b *testing.B)     { benchLocal(b, "ip", 1e9, 1e9) }
func BenchmarkLocalPassUser(b *testing.B)   { benchLocal(b, "user", 1e9, 1e9) }
func BenchmarkLocalPassGlobal(b *testing.B) { benchLocal(b, "global", 1e9, 1e9) }
func BenchmarkLocalPassItem(b *testing.B)   { benchLocal(b, "item", 1e9, 1e9) }
func BenchmarkLocalRejectIP(b *testing.B)   { benchLocal(b, "ip", 1, 1) }

// Many clients hitting one limiter from every core: the sharded map and
// per-key CAS keep them apart.
func BenchmarkLocalParallelIP(b *testing.B) {
	f := build(b, Config{Scope: "ip", Rate: 1e9, Burst: 1e9}, realEnv(nil))
	var next atomic.Uint32
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		base := next.Add(1) << 16
		r := filtertest.From(filtertest.Request(nil, "", t0), "10.0.0.1")
		i := uint32(0)
		for pb.Next() {
			i++
			v := base | i&1023 // 1,024 addresses per goroutine, all held after the first round
			r.IP = netip.AddrFrom4([4]byte{10, byte(v >> 16), byte(v >> 8), byte(v)})
			f.Handle(r)
		}
	})
}

// The global bucket is one atomic word shared by every core: the worst
// case for contention.
func BenchmarkLocalParallelGlobal(b *testing.B) {
	f := build(b, Config{Scope: "global", Rate: 1e9, Burst: 1e9}, realEnv(nil))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r := filtertest.From(filtertest.Request(nil, "", t0), "10.0.0.1")
		for pb.Next() {
			f.Handle(r)
		}
	})
}

// One Redis round trip per request (a key that is never over its limit).
func BenchmarkDistributedPass(b *testing.B) {
	s := redistest.Start(b)
	f := instance(b, Config{Scope: "ip", Rate: 1e6, Burst: 1e6, RedisTimeout: time.Second}, s.Addr())
	r := filtertest.From(filtertest.Request(nil, "", time.Now()), "10.0.0.1")
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if v, err := f.Handle(r); err != nil || v.Action != gateway.Continue {
			b.Fatalf("not admitted: %v", err)
		}
	}
}

func BenchmarkDistributedPassParallel(b *testing.B) {
	s := redistest.Start(b)
	f := instance(b, Config{Scope: "ip", Rate: 1e6, Burst: 1e6, RedisTimeout: time.Second}, s.Addr())
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r := filtertest.From(filtertest.Request(nil, "", time.Now()), "10.0.0.1")
		for pb.Next() {
			f.Handle(r)
		}
	})
}

// A key Redis has refused is refused from memory.
func BenchmarkDistributedOverLimit(b *testing.B) {
	s := redistest.Start(b)
	f := instance(b, Config{Scope: "ip", Rate: 0.01, Burst: 1}, s.Addr())
	r := filtertest.From(filtertest.Request(nil, "", time.Now()), "10.0.0.1")
	f.Handle(r)
	f.Handle(r)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		f.Handle(r)
	}
}
