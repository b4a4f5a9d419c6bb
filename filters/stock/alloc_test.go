//go:build !race

package stock

import (
	"testing"
	"time"

	"github.com/flashgate/flashgate/gateway"
	"github.com/flashgate/flashgate/internal/filtertest"
)

// The crowd after the last unit is answered from memory without
// allocating; the admitted path is measured in the benchmarks.
func TestSoldOutPathAllocs(t *testing.T) {
	f, _, act := setup(t, 0)
	r := filtertest.Request(act, "u1", time.Now())
	_, _ = f.Handle(r)
	allocs := testing.AllocsPerRun(1000, func() {
		v, _ := f.Handle(r)
		if v.Action != gateway.Reject {
			t.Fatal("not rejected")
		}
	})
	if allocs != 0 {
		t.Errorf("sold-out path: %v allocs, want 0", allocs)
	}
}
