package blacklist

import (
	"fmt"
	"testing"
	"time"

	"github.com/flashgate/flashgate/filters/internal/userset"
	"github.com/flashgate/flashgate/gateway"
	"github.com/flashgate/flashgate/internal/filtertest"
)

// bigFilter is a blacklist of 100,000 users and 10,000 ranges over 9
// prefix lengths, a realistic worst case for the pass path.
func bigFilter(b *testing.B) *filter {
	entries := make([]string, 0, 110000)
	for i := range 100000 {
		entries = append(entries, fmt.Sprintf("user-%d", i))
	}
	for i := range 10000 {
		entries = append(entries, fmt.Sprintf("%d.%d.%d.0/%d", 10+i%200, i/256%256, i%256, 16+i%9))
	}
	m := userset.New(userset.Options[snapshot]{Static: entries, Build: build, Refresh: time.Second})
	return &filter{l: &list{m: m}, user: true, ip: true, page: &gateway.Page{Status: 403}}
}

func BenchmarkPass(b *testing.B) {
	f := bigFilter(b)
	r := filtertest.From(filtertest.Request(nil, "alice", time.Now()), "192.0.2.1")
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		f.Handle(r)
	}
}

func BenchmarkReject(b *testing.B) {
	f := bigFilter(b)
	r := filtertest.From(filtertest.Request(nil, "user-4242", time.Now()), "192.0.2.1")
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		f.Handle(r)
	}
}

func BenchmarkPassParallel(b *testing.B) {
	f := bigFilter(b)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		r := filtertest.From(filtertest.Request(nil, "alice", time.Now()), "192.0.2.1")
		for pb.Next() {
			f.Handle(r)
		}
	})
}
