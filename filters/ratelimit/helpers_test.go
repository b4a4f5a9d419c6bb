package ratelimit

import (
	"testing"

	"github.com/flashgate/flashgate/gateway"
	"github.com/flashgate/flashgate/internal/filtertest"
)

// t0 is the simulated start; tests move r.Now from it.
var t0 = filtertest.T0

// newEnv is a route with {activity} over acts.
func newEnv(route string, acts []*gateway.Activity) *gateway.Env {
	env := filtertest.Env(acts...)
	env.Route = route
	return env
}

// build builds c through the registry, so the fields a test leaves zero
// get the real defaults, and closes the limiter when the test ends.
func build(t testing.TB, c Config, env *gateway.Env) *filter {
	t.Helper()
	f := filtertest.Filter[*filter](t, env, "rate_limit", filtertest.Settings(c))
	t.Cleanup(func() { f.l.Close() })
	return f
}

// outcome is filtertest.Outcome for a rate limit: every rejection is 429.
func outcome(t testing.TB, f gateway.Filter, r *gateway.Request) (reason string, retry string) {
	t.Helper()
	reason, retry = filtertest.Outcome(t, f, r)
	if reason != "" && r.Ctx.Response.StatusCode() != 429 {
		t.Fatalf("status %d, want 429", r.Ctx.Response.StatusCode())
	}
	return reason, retry
}
