//go:build !race

package breaker

import (
	"testing"
	"time"
)

func TestZeroAllocs(t *testing.T) {
	c := newClock()
	b := newTest(c, 2)
	cases := []struct {
		name string
		f    func()
	}{
		{"closed success", func() { tk, _ := b.Allow(); b.Done(tk, Success) }},
		{"closed failure then success", func() {
			tk, _ := b.Allow()
			b.Done(tk, Failure)
			tk, _ = b.Allow()
			b.Done(tk, Success)
		}},
	}
	for _, tc := range cases {
		if n := testing.AllocsPerRun(200, tc.f); n != 0 {
			t.Errorf("%s: %v allocs", tc.name, n)
		}
	}
	o := New(Settings{Failures: 1, OpenFor: time.Hour, Now: c.now})
	tk, _ := o.Allow()
	o.Done(tk, Failure)
	if n := testing.AllocsPerRun(200, func() { o.Allow() }); n != 0 {
		t.Errorf("open refusal: %v allocs", n)
	}
}
