package hiddenpath

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/gateway"
	"github.com/flashgate/flashgate/internal/filtertest"
)

const (
	secretA = "0123456789abcdef0123456789abcdef"
	secretB = "fedcba9876543210fedcba9876543210"
)

// t0 opens act1's first window; its second runs from t0+2h to t0+3h.
var t0 = filtertest.T0

func keys(ids ...string) []any {
	secrets := map[string]string{"k1": secretA, "k2": secretB}
	out := []any{}
	for _, id := range ids {
		out = append(out, map[string]any{"id": id, "secret": secrets[id]})
	}
	return out
}

// testEnv: act1 has two windows, act2 is always open, act3 starts later.
func testEnv() *gateway.Env {
	var as []*gateway.Activity
	acts := []conf.Activity{
		{ID: "act1", Stock: 10, Shards: 1, PerUser: 1, Windows: []conf.Window{
			{Start: t0, End: t0.Add(time.Hour)}, {Start: t0.Add(2 * time.Hour), End: t0.Add(3 * time.Hour)}}},
		{ID: "act2", Stock: 10, Shards: 1, PerUser: 1},
		{ID: "act3", Stock: 10, Shards: 1, PerUser: 1, Windows: []conf.Window{{Start: t0.Add(24 * time.Hour)}}},
	}
	for i, c := range acts {
		as = append(as, gateway.NewActivity(i, c))
	}
	return filtertest.Env(as...)
}

// pathFor asks the endpoint for user's purchase path and returns it with
// its segment.
func pathFor(t testing.TB, e *endpoint, env *gateway.Env, act int, user string, now time.Time) (path, sig string) {
	t.Helper()
	r := filtertest.Request(env.Activities[act], user, now)
	e.Respond(r)
	var out struct{ Path string }
	if r.Ctx.Response.StatusCode() != 200 || json.Unmarshal(r.Ctx.Response.Body(), &out) != nil {
		t.Fatalf("purchase_path: %d %s", r.Ctx.Response.StatusCode(), r.Ctx.Response.Body())
	}
	return out.Path, out.Path[strings.LastIndexByte(out.Path, '/')+1:]
}

// buy runs the filter as the router would for /api/buy/<act>/<sig>.
func buy(t testing.TB, f *filter, env *gateway.Env, act int, user, param, sig string, now time.Time) string {
	t.Helper()
	r := filtertest.Request(env.Activities[act], user, now)
	if sig != "" {
		r.Ctx.SetUserValue(param, sig)
	}
	v, err := f.Handle(r)
	if err != nil {
		t.Fatal(err)
	}
	if v.Action == gateway.Reject {
		return v.Page.Reason
	}
	return ""
}

// otherEnv is a separate gateway instance with the same activities, so a
// ring built there is not shared with testEnv's.
func otherEnv() *gateway.Env { return testEnv() }
