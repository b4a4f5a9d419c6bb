//go:build !race

package blacklist

import (
	"testing"
	"time"

	"github.com/flashgate/flashgate/internal/filtertest"
)

// Checking a user and an address, listed or not, allocates nothing.
func TestAllocs(t *testing.T) {
	f := fileFilter(t, "user", "ip")
	for _, tc := range []struct {
		name, ip, user string
	}{
		{"pass", "192.0.2.1", "alice"},
		{"pass v6", "2001:db8:beef::1", "alice"},
		{"reject user", "192.0.2.1", "mallory"},
		{"reject range", "198.51.100.9", ""},
	} {
		r := filtertest.From(filtertest.Request(nil, tc.user, time.Now()), tc.ip)
		if n := testing.AllocsPerRun(1000, func() { f.Handle(r) }); n != 0 {
			t.Errorf("%s: %v allocs per request", tc.name, n)
		}
	}
}
