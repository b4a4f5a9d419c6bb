// Package filtertest is the one set of helpers the filters' tests share:
// an Env like a route's, filters and endpoints built through the
// registry with their real defaults, requests, and a filter's outcome.
package filtertest

import (
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/gateway"
)

// T0 is the fixed instant filter tests start from: Env's clock reads it.
var T0 = time.Date(2030, 1, 2, 12, 0, 0, 0, time.UTC)

// Activities returns activities with the given ids, in that order, each
// with 10 units on one shard, one per user.
func Activities(ids ...string) []*gateway.Activity {
	out := make([]*gateway.Activity, len(ids))
	for i, id := range ids {
		out[i] = gateway.NewActivity(i, conf.Activity{ID: id, Stock: 10, Shards: 1, PerUser: 1})
	}
	return out
}

// Numbered returns n activities a0..a(n-1), as Activities does.
func Numbered(n int) []*gateway.Activity {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = "a" + strconv.Itoa(i)
	}
	return Activities(ids...)
}

// Env is the build environment of a route whose {activity} expands to
// acts (none: a route without it), with its clock fixed at T0 and its own
// shared-state table, as gateway.NewEnv makes it.
func Env(acts ...*gateway.Activity) *gateway.Env {
	env := gateway.NewEnv()
	env.Activities = acts
	for _, a := range acts {
		env.AllActivities[a.ID] = a
	}
	env.Now = func() time.Time { return T0 }
	return env
}

// Check decodes settings into a fresh config of filter type typ, with
// its registered defaults, strictly as the gateway does, and validates
// it: the problems as one error (each under path typ), or nil.
func Check(typ string, settings map[string]any) error {
	c, ok := gateway.NewFilterConfig(typ)
	if !ok {
		panic("filtertest: no filter type " + typ)
	}
	return conf.CheckSection(typ, orEmpty(settings), c)
}

// Decode decodes settings into c strictly and validates it, failing the
// test on any problem.
func Decode(t testing.TB, path string, settings map[string]any, c conf.Validator) {
	t.Helper()
	if err := conf.CheckSection(path, orEmpty(settings), c); err != nil {
		t.Fatal(err)
	}
}

// Config returns filter type typ's config with its registered defaults,
// settings decoded into it, as its own type C.
func Config[C gateway.FilterConfig](t testing.TB, typ string, settings map[string]any) C {
	t.Helper()
	c, ok := gateway.NewFilterConfig(typ)
	if !ok {
		t.Fatalf("no filter type %q", typ)
	}
	Decode(t, typ, settings, c)
	return c.(C)
}

// Filter builds a filter of type typ from settings on env, through the
// registered defaults, decode and validation, as a config's build would;
// F is the filter's own type. A filter that is an io.Closer is closed
// when the test ends.
func Filter[F gateway.Filter](t testing.TB, env *gateway.Env, typ string, settings map[string]any) F {
	t.Helper()
	c, ok := gateway.NewFilterConfig(typ)
	if !ok {
		t.Fatalf("no filter type %q", typ)
	}
	Decode(t, typ, settings, c)
	f, err := c.Build(env)
	if err != nil {
		t.Fatalf("%s: build: %v", typ, err)
	}
	if cl, ok := f.(io.Closer); ok {
		t.Cleanup(func() { _ = cl.Close() })
	}
	return f.(F)
}

// Endpoint is Filter for the json endpoint name.
func Endpoint[E gateway.Endpoint](t testing.TB, env *gateway.Env, name string, settings map[string]any) E {
	t.Helper()
	c, ok := gateway.NewEndpointConfig(name)
	if !ok {
		t.Fatalf("no endpoint %q", name)
	}
	Decode(t, name, settings, c)
	e, err := c.Build(env)
	if err != nil {
		t.Fatalf("%s: build: %v", name, err)
	}
	return e.(E)
}

// peer is the TCP peer of every test request.
var peer = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5555}

// Request is a request for act (nil: none) by user ("" anonymous) at
// now, from 127.0.0.1, with header name/value pairs set.
func Request(act *gateway.Activity, user string, now time.Time, headers ...string) *gateway.Request {
	ctx := new(fasthttp.RequestCtx)
	ctx.Init(&fasthttp.Request{}, peer, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		ctx.Request.Header.Set(headers[i], headers[i+1])
	}
	r := &gateway.Request{Ctx: ctx, Activity: act, Now: now, IP: netip.MustParseAddr("127.0.0.1")}
	if user != "" {
		r.SetUser([]byte(user))
	}
	return r
}

// From sets the client address of r to ip.
func From(r *gateway.Request, ip string) *gateway.Request {
	r.IP = netip.MustParseAddr(ip)
	return r
}

// Outcome runs f on r and returns the rejection reason ("" for a pass)
// and the Retry-After header of the page written, failing the test when
// f cannot decide or stops the chain by writing its own answer.
func Outcome(t testing.TB, f gateway.Filter, r *gateway.Request) (reason, retryAfter string) {
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
		return v.Page.Reason, string(r.Ctx.Response.Header.Peek("Retry-After"))
	}
	t.Fatalf("unexpected action %v", v.Action)
	return "", ""
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

// Settings turns a filter's Config value into the settings map its YAML
// would hold: one entry per non-zero field, under its mapstructure name.
// Fields left zero are left out, so the registered defaults apply to
// them when the map is decoded (Filter), as they would to a YAML entry
// that omits them.
func Settings(c any) map[string]any {
	v := reflect.Indirect(reflect.ValueOf(c))
	out := map[string]any{}
	for i := 0; i < v.NumField(); i++ {
		f := v.Type().Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("mapstructure"), ",")
		if name == "" || name == "-" || !f.IsExported() || v.Field(i).IsZero() {
			continue
		}
		out[name] = v.Field(i).Interface()
	}
	return out
}

// Build decodes settings into filter type typ's config (failing the test
// on a decode or validation problem) and returns what its Build returns,
// for tests of build errors.
func Build(t testing.TB, env *gateway.Env, typ string, settings map[string]any) (gateway.Filter, error) {
	t.Helper()
	c, ok := gateway.NewFilterConfig(typ)
	if !ok {
		t.Fatalf("no filter type %q", typ)
	}
	Decode(t, typ, settings, c)
	return c.Build(env)
}

// WriteFile writes body to a file name in the test's temporary
// directory and returns its path.
func WriteFile(t testing.TB, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
