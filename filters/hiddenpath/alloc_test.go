//go:build !race

package hiddenpath

import (
	"github.com/flashgate/flashgate/internal/filtertest"
	"testing"
	"time"
)

// TestHandleAllocs proves the hidden_path pass and reject paths allocate
// nothing: the parameter name is boxed once, the segment is viewed in
// place, the HMAC input and state are pooled.
func TestHandleAllocs(t *testing.T) {
	env := testEnv()
	f := filtertest.Filter[*filter](t, env, "hidden_path", map[string]any{"keys": keys("k2", "k1")})
	e := filtertest.Endpoint[*endpoint](t, env, "purchase_path", map[string]any{"keys": keys("k1")})
	at := t0.Add(time.Minute)
	_, sig := pathFor(t, e, env, 0, "alice", at) // signed by k1: both keys are tried
	tests := []struct {
		name, sig, reason string
		at                time.Time
	}{
		{"pass", sig, "", at},
		{"guessed", "AAAAAAAAAAAAAAAAAAAAAA", "not_found", at},
		{"early", sig, "not_found", t0.Add(-time.Second)},
		{"missing", "", "not_found", at},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := filtertest.Request(env.Activities[0], "alice", tc.at)
			if tc.sig != "" {
				r.Ctx.SetUserValue("sig", tc.sig)
			}
			run := func() {
				v, err := f.Handle(r)
				if err != nil || (v.Page == nil) != (tc.reason == "") {
					t.Fatalf("verdict %+v err %v", v, err)
				}
			}
			if n := testing.AllocsPerRun(200, run); n != 0 {
				t.Fatalf("%v allocs per request, want 0", n)
			}
		})
	}
}
