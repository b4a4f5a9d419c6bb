//go:build !race

package ratelimit

import (
	"testing"
	"time"

	"github.com/flashgate/flashgate/gateway"
	"github.com/flashgate/flashgate/internal/filtertest"
	"github.com/flashgate/flashgate/internal/redistest"
)

// The pass path (for a key already held) and the reject path of every
// scope allocate nothing.
func TestAllocs(t *testing.T) {
	acts := filtertest.Numbered(2)
	for _, scope := range scopeNames {
		for _, tc := range []struct {
			name  string
			rate  float64
			burst int
			want  string
		}{
			{"pass", 1e9, 1e9, ""},
			{"reject", 1, 1, "rate_limited_" + scope},
		} {
			t.Run(scope+"/"+tc.name, func(t *testing.T) {
				f := build(t, Config{Scope: scope, Rate: tc.rate, Burst: tc.burst}, newEnv("r", acts))
				r := filtertest.From(filtertest.Request(acts[1], "user-42", t0), "10.0.0.1")
				outcome(t, f, r) // creates the key
				if reason, _ := outcome(t, f, r); reason != tc.want {
					t.Fatalf("got %q, want %q", reason, tc.want)
				}
				if n := testing.AllocsPerRun(1000, func() { f.Handle(r) }); n != 0 {
					t.Fatalf("%v allocs per request", n)
				}
			})
		}
	}
}

// A distributed bucket Redis has refused is refused from memory, without
// a round trip and without allocating.
func TestAllocsDistributedOverLimit(t *testing.T) {
	s := redistest.Start(t)
	f := instance(t, Config{Scope: "ip", Rate: 0.01, Burst: 1}, s.Addr())
	r := filtertest.From(filtertest.Request(nil, "", time.Now()), "10.0.0.1")
	outcome(t, f, r)
	if reason, _ := outcome(t, f, r); reason != "rate_limited_ip" {
		t.Fatalf("second request: %q", reason)
	}
	n := testing.AllocsPerRun(1000, func() {
		if v, err := f.Handle(r); err != nil || v.Action != gateway.Reject {
			t.Fatal("over-limit request not refused")
		}
	})
	if n != 0 {
		t.Fatalf("%v allocs per refused request", n)
	}
}
