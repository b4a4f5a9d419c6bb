package token

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/flashgate/flashgate/gateway"
	"github.com/flashgate/flashgate/internal/filtertest"
)

const (
	secretA = "0123456789abcdef0123456789abcdef"
	secretB = "fedcba9876543210fedcba9876543210"
)

var t0 = filtertest.T0

func keysAB() []any {
	return []any{map[string]any{"id": "k2", "secret": secretB}, map[string]any{"id": "k1", "secret": secretA}}
}

// testEnv has two activities, as a route with {activity} would.
func testEnv() *gateway.Env { return filtertest.Env(filtertest.Activities("act1", "act2")...) }

// buildFilter and buildEndpoint build through the registry with keysAB
// unless settings name keys.
func buildFilter(t testing.TB, env *gateway.Env, settings map[string]any) *filter {
	t.Helper()
	return filtertest.Filter[*filter](t, env, "order_token", withKeys(settings))
}

func buildEndpoint(t testing.TB, env *gateway.Env, settings map[string]any) *endpoint {
	t.Helper()
	return filtertest.Endpoint[*endpoint](t, env, "order_token", withKeys(settings))
}

func withKeys(settings map[string]any) map[string]any {
	if settings["keys"] == nil {
		settings["keys"] = keysAB()
	}
	return settings
}

type issued struct {
	Token      string    `json:"token"`
	IssuedAt   time.Time `json:"issued_at"`
	UsableFrom time.Time `json:"usable_from"`
	ExpiresAt  time.Time `json:"expires_at"`
}

// issue asks the endpoint for a token for user on activity act at now.
func issue(t testing.TB, e *endpoint, env *gateway.Env, act int, user string, now time.Time) issued {
	t.Helper()
	r := filtertest.Request(env.Activities[act], user, now)
	e.Respond(r)
	if r.Ctx.Response.StatusCode() != 200 {
		t.Fatalf("issue: %d %s", r.Ctx.Response.StatusCode(), r.Ctx.Response.Body())
	}
	var out issued
	if err := json.Unmarshal(r.Ctx.Response.Body(), &out); err != nil {
		t.Fatalf("issue: %v: %s", err, r.Ctx.Response.Body())
	}
	return out
}
