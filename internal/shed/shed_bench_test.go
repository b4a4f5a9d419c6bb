package shed

import (
	"testing"
	"time"
)

// BenchmarkShed is the refusal a shedding route gives: a clock read and
// three atomic loads.
func BenchmarkShed(b *testing.B) {
	s, c := newTest()
	starts := make([]int64, 0, 20)
	for range 20 {
		st, _ := s.Admit()
		starts = append(starts, st)
	}
	c.add(50 * time.Millisecond)
	for _, st := range starts {
		s.Done(st)
	}
	c.add(50 * time.Millisecond)
	_, in := admitted(s, 100) // fills the limit
	if len(in) == 0 || s.Limit() == 0 {
		b.Fatal("not shedding")
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, ok := s.Admit(); ok {
				b.Fatal("admitted")
			}
		}
	})
}

// BenchmarkAdmitDone is the cost on an admitted request (time.Now clock).
func BenchmarkAdmitDone(b *testing.B) {
	s := New(Settings{Target: 50 * time.Millisecond, Interval: 100 * time.Millisecond})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			st, ok := s.Admit()
			if !ok {
				b.Fatal("shed")
			}
			s.Done(st)
		}
	})
}
