//go:build !race

package window

import (
	"context"
	"testing"
	"time"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/internal/filtertest"
)

func TestAllocs(t *testing.T) {
	f, acts := build(t, 0)
	for _, now := range []time.Time{t0.Add(time.Minute), t0.Add(-time.Minute), t0.Add(20 * time.Hour)} {
		r := filtertest.Request(acts[0], "", now)
		if n := testing.AllocsPerRun(500, func() { _, _ = f.Handle(r) }); n != 0 {
			t.Errorf("at %s: %v allocs, want 0", now, n)
		}
	}
}

// An operator's window override is decided from atomics, without
// allocating, before and inside the new window.
func TestOverrideAllocs(t *testing.T) {
	store, a, f := overriddenFilter(t)
	if err := store.SetWindow(context.Background(), "sale", &conf.Window{Start: t0.Add(5 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	for _, now := range []time.Time{t0.Add(time.Minute), t0.Add(6 * time.Hour)} {
		r := filtertest.Request(a, "", now)
		if n := testing.AllocsPerRun(500, func() { _, _ = f.Handle(r) }); n != 0 {
			t.Errorf("at %s: %v allocs, want 0", now, n)
		}
	}
}
