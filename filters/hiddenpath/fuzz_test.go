package hiddenpath

import (
	"github.com/flashgate/flashgate/internal/filtertest"
	"testing"
	"time"
)

// FuzzSig: any segment, user and time never panic, and the filter admits
// exactly the segment the endpoint hands that user in that window.
func FuzzSig(f *testing.F) {
	env := testEnv()
	e := filtertest.Endpoint[*endpoint](f, env, "purchase_path", map[string]any{"keys": keys("k1")})
	fl := filtertest.Filter[*filter](f, env, "hidden_path", map[string]any{"keys": keys("k2", "k1")})
	_, sig := pathFor(f, e, env, 0, "alice", t0)
	f.Add(sig, "alice", int64(60_000))
	f.Add(sig, "alicf", int64(60_000))
	f.Add(sig, "alice", int64(-1))
	f.Add("AAAAAAAAAAAAAAAAAAAAAA", "alice", int64(0))
	f.Add("", "", int64(0))
	f.Fuzz(func(t *testing.T, sig, user string, offsetMs int64) {
		at := t0.Add(time.Duration(offsetMs) * time.Millisecond)
		got := buy(t, fl, env, 0, user, "sig", sig, at)
		if got == "" {
			r := filtertest.Request(env.Activities[0], user, at)
			e.Respond(r)
			want := `{"path":"/api/buy/act1/` + sig + "\"}\n"
			if string(r.Ctx.Response.Body()) != want {
				t.Fatalf("admitted %q for %q at %s; endpoint says %s", sig, user, at, r.Ctx.Response.Body())
			}
		}
	})
}
