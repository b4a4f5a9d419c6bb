//go:build !race

package reservation

import (
	"github.com/flashgate/flashgate/internal/filtertest"
	"testing"
	"time"
)

// Every answer of the filter (pass, 401, 403, a route activity that
// needs no reservation) allocates nothing.
func TestAllocs(t *testing.T) {
	acts := filtertest.Numbered(2)
	f := filtertest.Filter[*filter](t, newEnv(acts), "reservation", fileOnly(writeFile(t, "alice\n"), "activities", []any{"a0"}))
	for _, tc := range []struct {
		name, user string
		act        int
	}{{"reserved", "alice", 0}, {"anonymous", "", 0}, {"not reserved", "bob", 0}, {"open activity", "bob", 1}} {
		r := filtertest.From(filtertest.Request(acts[tc.act], tc.user, time.Now()), "192.0.2.1")
		if n := testing.AllocsPerRun(1000, func() { f.Handle(r) }); n != 0 {
			t.Errorf("%s: %v allocs per request", tc.name, n)
		}
	}
}
