package token

import (
	"encoding/json"
	"net/netip"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/gateway"
)

const (
	secretA = "0123456789abcdef0123456789abcdef"
	secretB = "fedcba9876543210fedcba9876543210"
)

var t0 = time.Date(2030, 1, 2, 12, 0, 0, 0, time.UTC)

func keysAB() []any {
	return []any{map[string]any{"id": "k2", "secret": secretB}, map[string]any{"id": "k1", "secret": secretA}}
}

// testEnv has two activities, as a route with {activity} would.
func testEnv() *gateway.Env {
	env := gateway.NewEnv()
	a1 := gateway.NewActivity(0, conf.Activity{ID: "act1", Stock: 10, Shards: 1, PerUser: 1})
	a2 := gateway.NewActivity(1, conf.Activity{ID: "act2", Stock: 10, Shards: 1, PerUser: 1})
	env.Activities = []*gateway.Activity{a1, a2}
	env.AllActivities = map[string]*gateway.Activity{"act1": a1, "act2": a2}
	env.Now = func() time.Time { return t0 }
	return env
}

func decodeInto(t testing.TB, cfg conf.Validator, settings map[string]any) {
	t.Helper()
	var errs conf.Errors
	conf.DecodeSection(&errs, "order_token", settings, cfg)
	if err := errs.Err(); err != nil {
		t.Fatal(err)
	}
}

func buildFilter(t testing.TB, env *gateway.Env, settings map[string]any) *filter {
	t.Helper()
	if settings["keys"] == nil {
		settings["keys"] = keysAB()
	}
	c := newConfig()
	decodeInto(t, c, settings)
	f, err := c.Build(env)
	if err != nil {
		t.Fatal(err)
	}
	return f.(*filter)
}

func buildEndpoint(t testing.TB, env *gateway.Env, settings map[string]any) *endpoint {
	t.Helper()
	if settings["keys"] == nil {
		settings["keys"] = keysAB()
	}
	c := &EndpointConfig{MinAge: time.Second, MaxAge: 5 * time.Minute}
	decodeInto(t, c, settings)
	e, err := c.Build(env)
	if err != nil {
		t.Fatal(err)
	}
	return e.(*endpoint)
}

func request(env *gateway.Env, act int, user string, now time.Time) *gateway.Request {
	ctx := new(fasthttp.RequestCtx)
	r := &gateway.Request{Ctx: ctx, Now: now, IP: netip.MustParseAddr("127.0.0.1"), Activity: env.Activities[act]}
	if user != "" {
		r.SetUser([]byte(user))
	}
	return r
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
	r := request(env, act, user, now)
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

// verdict runs f and returns the reason ("" on pass) and Retry-After.
func verdict(t testing.TB, f *filter, r *gateway.Request) (string, string) {
	t.Helper()
	v, err := f.Handle(r)
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if v.Action != gateway.Reject {
		return "", ""
	}
	v.Page.Write(r.Ctx)
	return v.Page.Reason, string(r.Ctx.Response.Header.Peek("Retry-After"))
}
