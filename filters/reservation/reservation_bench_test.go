package reservation

import (
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
	f, err := (&Config{File: writeFile(b, sb.String()), Refresh: time.Second}).Build(newEnv(activities(1)))
	if err != nil {
		b.Fatal(err)
	}
	return f.(*filter)
}

func BenchmarkReserved(b *testing.B) {
	f := benchFilter(b)
	r := request("user-424242", activities(1)[0])
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		f.Handle(r)
	}
}

func BenchmarkReservedParallel(b *testing.B) {
	f := benchFilter(b)
	act := activities(1)[0]
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		r := request("user-424242", act)
		for pb.Next() {
			f.Handle(r)
		}
	})
}

func BenchmarkNotReserved(b *testing.B) {
	f := benchFilter(b)
	r := request("mallory", activities(1)[0])
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		f.Handle(r)
	}
}
