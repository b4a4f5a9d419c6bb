package ratelimit

import (
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/gateway"
)

// t0 is the simulated start; tests move r.Now from it.
var t0 = time.Date(2026, 11, 11, 0, 0, 0, 0, time.UTC)

// activities returns n activities a0..a(n-1).
func activities(n int) []*gateway.Activity {
	out := make([]*gateway.Activity, n)
	for i := range out {
		out[i] = gateway.NewActivity(i, conf.Activity{ID: "a" + strconv.Itoa(i), Stock: 10, Shards: 1, PerUser: 1})
	}
	return out
}

// newEnv is a route with {activity} over acts.
func newEnv(route string, acts []*gateway.Activity) *gateway.Env {
	env := gateway.NewEnv()
	env.Route = route
	env.Activities = acts
	for _, a := range acts {
		env.AllActivities[a.ID] = a
	}
	env.Now = func() time.Time { return t0 }
	return env
}

// build builds c with defaults for the fields a test leaves zero and
// closes the limiter when the test ends.
func build(t testing.TB, c Config, env *gateway.Env) *filter {
	t.Helper()
	d := newConfig()
	if c.Scope == "" {
		c.Scope = d.Scope
	}
	if c.OnRedisError == "" {
		c.OnRedisError = d.OnRedisError
	}
	if c.Instances == 0 {
		c.Instances = d.Instances
	}
	if c.RedisTimeout == 0 {
		c.RedisTimeout = d.RedisTimeout
	}
	if c.MaxKeys == 0 {
		c.MaxKeys = d.MaxKeys
	}
	var errs conf.Errors
	c.Validate(conf.At{Errs: &errs, Path: "rate_limit"})
	if err := errs.Err(); err != nil {
		t.Fatal(err)
	}
	f, err := c.Build(env)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.(*filter).l.Close() })
	return f.(*filter)
}

// request is a request from ip (and user, when set) for act at now.
func request(ip, user string, act *gateway.Activity, now time.Time) *gateway.Request {
	r := &gateway.Request{Ctx: new(fasthttp.RequestCtx), Now: now, IP: netip.MustParseAddr(ip), Activity: act}
	if user != "" {
		r.SetUser([]byte(user))
	}
	return r
}

// outcome runs f and returns "" for a pass, else the reason and the
// Retry-After header of the written page.
func outcome(t testing.TB, f gateway.Filter, r *gateway.Request) (reason string, retry string) {
	t.Helper()
	v, err := f.Handle(r)
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	switch v.Action {
	case gateway.Continue:
		return "", ""
	case gateway.Reject:
		v.Page.Write(r.Ctx)
		if v.Page.Status != 429 {
			t.Fatalf("status %d, want 429", v.Page.Status)
		}
		return v.Page.Reason, string(r.Ctx.Response.Header.Peek("Retry-After"))
	}
	t.Fatalf("unexpected action %v", v.Action)
	return "", ""
}
