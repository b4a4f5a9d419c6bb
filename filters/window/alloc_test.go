//go:build !race

package window

import (
	"testing"
	"time"
)

func TestAllocs(t *testing.T) {
	f, acts := build(t, 0)
	for _, now := range []time.Time{t0.Add(time.Minute), t0.Add(-time.Minute), t0.Add(20 * time.Hour)} {
		r := req(acts[0], now)
		if n := testing.AllocsPerRun(500, func() { _, _ = f.Handle(r) }); n != 0 {
			t.Errorf("at %s: %v allocs, want 0", now, n)
		}
	}
}
