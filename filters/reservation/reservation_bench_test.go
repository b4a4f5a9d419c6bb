package reservation

import (
	"github.com/flashgate/flashgate/internal/filtertest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// benchFilter guards one activity with a list of 1,000,000 users.
func benchFilter(b *testing.B) *filter {
	var sb strings.Builder
	for i := range 1_000_000 {
		sb.WriteString("user-")
		sb.WriteString(strconv.Itoa(i))
		sb.WriteByte('\n')
	}
	return filtertest.Filter[*filter](b, newEnv(filtertest.Numbered(1)), "reservation", fileOnly(writeFile(b, sb.String())))
}

func BenchmarkReserved(b *testing.B) {
	f := benchFilter(b)
	r := filtertest.From(filtertest.Request(filtertest.Numbered(1)[0], "user-424242", time.Now()), "192.0.2.1")
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		f.Handle(r)
	}
}

func BenchmarkReservedParallel(b *testing.B) {
	f := benchFilter(b)
	act := filtertest.Numbered(1)[0]
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		r := filtertest.From(filtertest.Request(act, "user-424242", time.Now()), "192.0.2.1")
		for pb.Next() {
			f.Handle(r)
		}
	})
}

func BenchmarkNotReserved(b *testing.B) {
	f := benchFilter(b)
	r := filtertest.From(filtertest.Request(filtertest.Numbered(1)[0], "mallory", time.Now()), "192.0.2.1")
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		f.Handle(r)
	}
}
