//go:build !race

package reservation

import (
	"testing"
	"time"
)

// Every answer of the filter (pass, 401, 403, a route activity that
// needs no reservation) allocates nothing.
func TestAllocs(t *testing.T) {
	acts := activities(2)
	f, err := (&Config{File: writeFile(t, "alice\n"), Refresh: time.Second, Activities: []string{"a0"}}).Build(newEnv(acts))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, user string
		act        int
	}{{"reserved", "alice", 0}, {"anonymous", "", 0}, {"not reserved", "bob", 0}, {"open activity", "bob", 1}} {
		r := request(tc.user, acts[tc.act])
		if n := testing.AllocsPerRun(1000, func() { f.Handle(r) }); n != 0 {
			t.Errorf("%s: %v allocs per request", tc.name, n)
		}
	}
}
