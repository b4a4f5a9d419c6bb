package breaker

import (
	"testing"
	"time"

	"github.com/sony/gobreaker/v2"
)

// BenchmarkAllowDone compares this breaker with sony/gobreaker/v2 on the
// request path's case, a closed breaker and a successful call; the
// figures are in the package doc.
func BenchmarkAllowDone(b *testing.B) {
	b.Run("breaker", func(b *testing.B) {
		br := New(Settings{Failures: 20, OpenFor: 5 * time.Second, Probes: 1})
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				t, ok := br.Allow()
				if !ok {
					b.Fatal("refused")
				}
				br.Done(t, Success)
			}
		})
	})
	b.Run("gobreaker_twostep", func(b *testing.B) {
		cb := gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
			MaxRequests: 1, Timeout: 5 * time.Second,
			ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= 20 },
		})
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				done, err := cb.Allow()
				if err != nil {
					b.Fatal(err)
				}
				done(nil)
			}
		})
	})
}

// BenchmarkRefuse is the open breaker's answer: a clock read and two loads.
func BenchmarkRefuse(b *testing.B) {
	br := New(Settings{Failures: 1, OpenFor: time.Hour})
	t, _ := br.Allow()
	br.Done(t, Failure)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, ok := br.Allow(); ok {
				b.Fatal("admitted")
			}
		}
	})
}
