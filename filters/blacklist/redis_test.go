package blacklist

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/gateway"
	"github.com/flashgate/flashgate/internal/filtertest"
	"github.com/flashgate/flashgate/internal/redistest"
)

// instance builds a gateway instance (its own client, its own shared
// state) with one route guarded by a blacklist, and returns it with the
// route's filter.
func instance(t *testing.T, addr, settings string) (*gateway.Instance, *filter) {
	t.Helper()
	cfg, err := conf.Parse(fmt.Appendf(nil, `
redis: {addrs: [%q]}
upstreams: [{name: shop, addrs: ["127.0.0.1:9"]}]
routes:
  - {path: /buy, method: POST, filters: [{blacklist: %s}], action: {type: proxy, upstream: shop}}
`, addr, settings))
	if err != nil {
		t.Fatal(err)
	}
	client := redistest.Client(t, addr)
	in, err := gateway.Build(cfg, gateway.Deps{Redis: client})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close() })
	reg, ok := gateway.Shared(in, registryKey)
	if !ok {
		t.Fatal("no blacklist registry in the instance")
	}
	l := reg.all()[0]
	return in, &filter{l: l, user: true, ip: true, page: &gateway.Page{Status: 403, Reason: "blacklisted"}}
}

// admin runs an admin handler and decodes its JSON answer.
func admin(t *testing.T, in *gateway.Instance, h func(*gateway.AdminCall), uri string) (int, map[string]any) {
	t.Helper()
	var ctx fasthttp.RequestCtx
	ctx.Request.SetRequestURI(uri)
	h(&gateway.AdminCall{Ctx: &ctx, Instance: in})
	var out map[string]any
	if err := json.Unmarshal(ctx.Response.Body(), &out); err != nil {
		t.Fatalf("%s: %v: %s", uri, err, ctx.Response.Body())
	}
	return ctx.Response.StatusCode(), out
}

func blocked(f *filter, ip, user string) bool {
	v, _ := f.Handle(filtertest.From(filtertest.Request(nil, user, time.Now()), ip))
	return v.Action == gateway.Reject
}

// An entry added through the admin API on instance A applies on A at
// once and on instance B (another client, another copy) within refresh.
func TestAddPropagates(t *testing.T) {
	s := redistest.Start(t)
	inA, a := instance(t, s.Addr(), "{refresh: 200ms}")
	_, b := instance(t, s.Addr(), "{refresh: 200ms}")
	for _, e := range []struct{ entry, ip, user string }{
		{"eve", "192.0.2.1", "eve"},
		{"203.0.113.0/24", "203.0.113.9", ""},
	} {
		if blocked(a, e.ip, e.user) || blocked(b, e.ip, e.user) {
			t.Fatalf("%s blocked before it was added", e.entry)
		}
		code, body := admin(t, inA, adminAdd, "/admin/blacklist?entry="+e.entry)
		if code != 200 || body["added"] != true || body["entry"] != e.entry {
			t.Fatalf("add %s: %d %v", e.entry, code, body)
		}
		if !blocked(a, e.ip, e.user) {
			t.Fatalf("%s: instance A does not block at once", e.entry)
		}
		start := time.Now()
		for !blocked(b, e.ip, e.user) {
			if time.Since(start) > 200*time.Millisecond+2*time.Second {
				t.Fatalf("%s: instance B does not block %s after the add", e.entry, time.Since(start))
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Logf("%s: instance B blocks after %s", e.entry, time.Since(start))
	}

	code, body := admin(t, inA, adminRemove, "/admin/blacklist?entry=eve")
	if code != 200 || body["removed"] != true || body["in_file"] != false {
		t.Fatalf("remove: %d %v", code, body)
	}
	if blocked(a, "192.0.2.1", "eve") {
		t.Fatal("instance A still blocks a removed entry")
	}
	deadline := time.Now().Add(3 * time.Second)
	for blocked(b, "192.0.2.1", "eve") {
		if time.Now().After(deadline) {
			t.Fatal("instance B still blocks a removed entry")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestAdmin(t *testing.T) {
	s := redistest.Start(t)
	path := writeFile(t, "mallory\n")
	in, _ := instance(t, s.Addr(), fmt.Sprintf("{file: %q}", path))
	tests := []struct {
		name string
		h    func(*gateway.AdminCall)
		uri  string
		code int
		want map[string]any
	}{
		{"bad entry", adminAdd, "/admin/blacklist?entry=bad%20user", 400, map[string]any{"error": "bad_entry"}},
		{"no entry", adminAdd, "/admin/blacklist", 400, map[string]any{"error": "bad_entry"}},
		{"two entries", adminAdd, "/admin/blacklist?entry=a&entry=b", 400, map[string]any{"error": "bad_entry"}},
		{"misspelt key", adminRemove, "/admin/blacklist?entry=a&kee=blacklist", 400, map[string]any{"error": "bad_entry"}},
		{"add", adminAdd, "/admin/blacklist?entry=::ffff:10.0.0.1", 200, map[string]any{"entry": "10.0.0.1", "added": true}},
		{"add again", adminAdd, "/admin/blacklist?entry=10.0.0.1", 200, map[string]any{"added": false}},
		{"unknown key", adminAdd, "/admin/blacklist?entry=x&key=other", 404, map[string]any{"error": "unknown_key"}},
		{"remove a file entry", adminRemove, "/admin/blacklist?entry=mallory", 200,
			map[string]any{"removed": false, "in_file": true}},
		{"remove", adminRemove, "/admin/blacklist?entry=10.0.0.1&key=blacklist", 200, map[string]any{"removed": true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body := admin(t, in, tc.h, tc.uri)
			if code != tc.code {
				t.Fatalf("status %d, want %d: %v", code, tc.code, body)
			}
			for k, v := range tc.want {
				if body[k] != v {
					t.Fatalf("%s = %v, want %v (%v)", k, body[k], v, body)
				}
			}
		})
	}
	admin(t, in, adminAdd, "/admin/blacklist?entry=zed")
	code, body := admin(t, in, adminList, "/admin/blacklist")
	got, _ := json.Marshal(body)
	want := fmt.Sprintf(`{"blacklists":[{"file":%q,"file_entries":["mallory"],"loaded":true,"redis_entries":["zed"],"redis_key":"blacklist","skipped_redis_members":[]}]}`, path)
	if code != 200 || string(got) != want {
		t.Fatalf("list: %d\n%s\nwant\n%s", code, got, want)
	}
}

// TestAdminSkippedMember: a member written to the Redis set by hand that
// is no entry blocks nothing, is listed apart, and the API removes it
// as written (a well-formed but unknown bad entry is still 400).
func TestAdminSkippedMember(t *testing.T) {
	s := redistest.Start(t)
	in, _ := instance(t, s.Addr(), "{}")
	c := redistest.Client(t, s.Addr())
	ctx := context.Background()
	reg, _ := gateway.Shared(in, registryKey)
	key := reg.all()[0].m.Key()
	if err := c.Do(ctx, c.B().Sadd().Key(key).Member("bad member!", "zed").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	if err := reg.all()[0].m.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	_, body := admin(t, in, adminList, "/admin/blacklist")
	got, _ := json.Marshal(body["blacklists"])
	if want := `[{"file":"","file_entries":[],"loaded":true,"redis_entries":["zed"],"redis_key":"blacklist","skipped_redis_members":["bad member!"]}]`; string(got) != want {
		t.Fatalf("list %s\nwant %s", got, want)
	}
	if code, body := admin(t, in, adminRemove, "/admin/blacklist?entry=other%20member!"); code != 400 || body["error"] != "bad_entry" {
		t.Fatalf("remove of a malformed entry nobody wrote: %d %v, want 400 bad_entry", code, body)
	}
	if code, body := admin(t, in, adminRemove, "/admin/blacklist?entry=bad%20member!"); code != 200 || body["removed"] != true || body["entry"] != "bad member!" {
		t.Fatalf("remove of the skipped member: %d %v", code, body)
	}
	if ok, err := c.Do(ctx, c.B().Sismember().Key(key).Member("bad member!").Build()).AsBool(); ok || err != nil {
		t.Fatalf("still in Redis: %v %v", ok, err)
	}
}

// Without a Redis set the write endpoints answer 503; without any
// blacklist, 404.
func TestAdminWithoutRedis(t *testing.T) {
	cfg, err := conf.Parse([]byte(`
upstreams: [{name: shop, addrs: ["127.0.0.1:9"]}]
routes:
  - {path: /buy, method: POST, filters: [{blacklist: {redis_key: "", file: ` + writeFile(t, "x\n") + `}}], action: {type: proxy, upstream: shop}}
  - {path: /other, action: {type: proxy, upstream: shop}}
`))
	if err != nil {
		t.Fatal(err)
	}
	in, err := gateway.Build(cfg, gateway.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if code, body := admin(t, in, adminAdd, "/admin/blacklist?entry=y"); code != 409 || body["error"] != "no_redis" {
		t.Fatalf("add without Redis: %d %v", code, body)
	}
	if code, body := admin(t, nil, adminList, "/admin/blacklist"); code != 404 || body["error"] != "no_blacklist" {
		t.Fatalf("list without a blacklist: %d %v", code, body)
	}
}

// With Redis gone the copy is kept and the request path never waits.
func TestRedisDownKeepsCopy(t *testing.T) {
	s := redistest.Start(t)
	c := redistest.Client(t, s.Addr())
	if err := c.Do(context.Background(), c.B().Sadd().Key("fg:blacklist").Member("eve").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	_, f := instance(t, s.Addr(), "{refresh: 50ms}")
	if !blocked(f, "192.0.2.1", "eve") {
		t.Fatal("eve not loaded at build")
	}
	s.Kill()
	time.Sleep(300 * time.Millisecond) // several failed reloads
	start := time.Now()
	if !blocked(f, "192.0.2.1", "eve") {
		t.Fatal("the copy was dropped when Redis went away")
	}
	if took := time.Since(start); took > 10*time.Millisecond {
		t.Fatalf("a check took %s with Redis down", took)
	}
}
