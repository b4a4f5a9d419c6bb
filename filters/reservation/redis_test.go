package reservation

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/valyala/fasthttp"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/filters/internal/userset"
	"github.com/flashgate/flashgate/gateway"
	"github.com/flashgate/flashgate/internal/filtertest"
	"github.com/flashgate/flashgate/internal/redistest"
)

// instance builds a gateway instance with two activities and a purchase
// route guarded by a reservation filter, and returns the instance and a
// filter built over its shared hub (the route's own is internal to it).
func instance(t *testing.T, client rueidis.Client, settings string) (*gateway.Instance, gateway.Filter, []*gateway.Activity) {
	t.Helper()
	cfg, err := conf.Parse(fmt.Appendf(nil, `
redis: {addrs: ["127.0.0.1:1"]}
activities: [{id: a0, stock: 10}, {id: a1, stock: 10}]
upstreams: [{name: shop, addrs: ["127.0.0.1:9"]}]
routes:
  - {path: "/buy/{activity}", method: POST, filters: [{reservation: %s}], action: {type: proxy, upstream: shop}}
`, settings))
	if err != nil {
		t.Fatal(err)
	}
	in, err := gateway.Build(cfg, gateway.Deps{Redis: client})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close() })
	h, ok := gateway.Shared(in, hubKey)
	if !ok {
		t.Fatal("no reservation hub in the instance")
	}
	f := &filter{byIndex: make([]*userset.Mirror[userset.Set], len(in.ActivityList)),
		login: &gateway.Page{Status: 401, Reason: "reservation_requires_login"}, notReserved: &gateway.Page{Status: 403, Reason: "not_reserved"}}
	for _, a := range in.ActivityList {
		if ls := h.lists(a.ID); len(ls) > 0 {
			f.byIndex[a.Index] = ls[0].m
		}
	}
	return in, f, in.ActivityList
}

func admin(t *testing.T, in *gateway.Instance, h func(*gateway.AdminCall), id, body string) (int, map[string]any) {
	t.Helper()
	var ctx fasthttp.RequestCtx
	ctx.SetUserValue("id", id)
	ctx.Request.SetBodyString(body)
	h(&gateway.AdminCall{Ctx: &ctx, Instance: in})
	var out map[string]any
	if err := json.Unmarshal(ctx.Response.Body(), &out); err != nil {
		t.Fatalf("%v: %s", err, ctx.Response.Body())
	}
	return ctx.Response.StatusCode(), out
}

// The warm-up path: users posted to instance A are admitted there at once
// and on instance B within refresh; GET counts them.
func TestAdminLoadsList(t *testing.T) {
	s := redistest.Start(t)
	inA, a, acts := instance(t, redistest.Client(t, s.Addr()), "{refresh: 200ms}")
	_, b, _ := instance(t, redistest.Client(t, s.Addr()), "{refresh: 200ms}")
	if got := outcome(t, a, filtertest.From(filtertest.Request(acts[0], "alice", time.Now()), "192.0.2.1")); got != "not_reserved/403" {
		t.Fatalf("before the upload: %q", got)
	}
	code, body := admin(t, inA, adminAdd, "a0", "# list 1\nalice\nbob\r\nalice\n\n")
	if code != 200 || body["received"] != 3.0 || body["added"] != 2.0 {
		t.Fatalf("upload: %d %v", code, body)
	}
	if got := outcome(t, a, filtertest.From(filtertest.Request(acts[0], "alice", time.Now()), "192.0.2.1")); got != "" {
		t.Fatalf("instance A after the upload: %q", got)
	}
	if got := outcome(t, a, filtertest.From(filtertest.Request(acts[1], "alice", time.Now()), "192.0.2.1")); got != "not_reserved/403" {
		t.Fatalf("a reservation for a0 admitted to a1: %q", got)
	}
	start := time.Now()
	for outcome(t, b, filtertest.From(filtertest.Request(acts[0], "bob", time.Now()), "192.0.2.1")) != "" {
		if time.Since(start) > 3*time.Second {
			t.Fatal("instance B does not admit bob 3 s after the upload")
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("instance B admits after %s", time.Since(start))

	code, body = admin(t, inA, adminCount, "a0", "")
	if code != 200 || body["count"] != 2.0 {
		t.Fatalf("count: %d %v", code, body)
	}
	got, _ := json.Marshal(body["sets"])
	if string(got) != `[{"key":"fg:reservations:a0","loaded":true,"local":2,"redis":2}]` {
		t.Fatalf("sets: %s", got)
	}
}

func TestAdminErrors(t *testing.T) {
	s := redistest.Start(t)
	in, _, _ := instance(t, redistest.Client(t, s.Addr()), "{activities: [a0]}")
	tests := []struct {
		name, id, body string
		code           int
		reason         string
	}{
		{"unknown activity", "zz", "alice", 404, "unknown_activity"},
		{"unguarded activity", "a1", "alice", 404, "no_reservations"},
		{"bad user", "a0", "alice\nbad user\n", 400, "bad_user"},
		{"empty body", "a0", "# nothing\n", 400, "bad_user"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body := admin(t, in, adminAdd, tc.id, tc.body)
			if code != tc.code || body["error"] != tc.reason {
				t.Fatalf("%d %v, want %d %s", code, body, tc.code, tc.reason)
			}
		})
	}
	_, body := admin(t, in, adminAdd, "a0", "alice\nbad user\n")
	if msg := body["message"].(string); !strings.Contains(msg, `line 2: "bad user" is not a user id`) {
		t.Fatalf("message %q", msg)
	}
}

// A list that has never loaded fails closed; once Redis answers, the
// background reload brings it in.
func TestFailsClosedUntilLoaded(t *testing.T) {
	s := redistest.Start(t)
	c := redistest.Client(t, s.Addr())
	if err := c.Do(context.Background(), c.B().Sadd().Key("fg:reservations:a0").Member("alice").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	s.Kill()
	_, f, acts := instance(t, c, "{refresh: 100ms}")
	if got := outcome(t, f, filtertest.From(filtertest.Request(acts[0], "alice", time.Now()), "192.0.2.1")); got != "error" {
		t.Fatalf("with no copy ever loaded: %q, want ErrUnavailable", got)
	}
	if got := outcome(t, f, filtertest.From(filtertest.Request(acts[0], "", time.Now()), "192.0.2.1")); got != "reservation_requires_login/401" {
		t.Fatalf("anonymous with no copy: %q", got)
	}
	s.Restart(t) // a fresh, empty server on the same port
	// A connection from before the restart fails once (EOF) before the
	// client reconnects it, and writes are not retried for us.
	for tries := 0; ; tries++ {
		err := c.Do(context.Background(), c.B().Sadd().Key("fg:reservations:a0").Member("alice").Build()).Error()
		if err == nil {
			break
		}
		if tries == 50 {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	deadline := time.Now().Add(5 * time.Second)
	for outcome(t, f, filtertest.From(filtertest.Request(acts[0], "alice", time.Now()), "192.0.2.1")) != "" {
		if time.Now().After(deadline) {
			t.Fatal("the list did not load 5 s after Redis came back")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := outcome(t, f, filtertest.From(filtertest.Request(acts[0], "bob", time.Now()), "192.0.2.1")); got != "not_reserved/403" {
		t.Fatalf("bob once loaded: %q", got)
	}
}
