package hiddenpath

import (
	"strings"
	"testing"
	"time"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/gateway"
	"github.com/flashgate/flashgate/internal/filtertest"
)

func TestFilter(t *testing.T) {
	env := testEnv()
	f := filtertest.Filter[*filter](t, env, "hidden_path", map[string]any{"keys": keys("k2", "k1")})
	e := filtertest.Endpoint[*endpoint](t, env, "purchase_path", map[string]any{"keys": keys("k2", "k1")})
	in1 := t0.Add(time.Minute)               // act1, first window
	in2 := t0.Add(2*time.Hour + time.Minute) // act1, second window
	_, alice := pathFor(t, e, env, 0, "alice", in1)
	_, alice2 := pathFor(t, e, env, 0, "alice", in2)
	_, bob := pathFor(t, e, env, 0, "bob", in1)
	_, alwaysOpen := pathFor(t, e, env, 1, "alice", t0.Add(-1000*time.Hour))
	// A link signed before a rotation, when k1 was the signing key.
	_, rotated := pathFor(t, filtertest.Endpoint[*endpoint](t, env, "purchase_path", map[string]any{"keys": keys("k1")}), env, 0, "alice", in1)
	// A link signed with a key the gateway does not hold.
	_, foreign := pathFor(t, filtertest.Endpoint[*endpoint](t, otherEnv(), "purchase_path", map[string]any{"keys": []any{map[string]any{"id": "k2", "secret": strings.Repeat("x", 32)}}}), env, 0, "alice", in1)
	tests := []struct {
		name, user, sig, param string
		act                    int
		at                     time.Time
		reason                 string
	}{
		{name: "own link", user: "alice", sig: alice, at: in1},
		{name: "own link at window end - 1ms", user: "alice", sig: alice, at: t0.Add(time.Hour - time.Millisecond)},
		{name: "second window link", user: "alice", sig: alice2, at: in2},
		{name: "unbounded activity", user: "alice", sig: alwaysOpen, act: 1, at: t0},
		{name: "rotated key", user: "alice", sig: rotated, at: in1},
		{name: "other user's link", user: "alice", sig: bob, at: in1, reason: "not_found"},
		{name: "link lent to other user", user: "bob", sig: alice, at: in1, reason: "not_found"},
		{name: "guessed", user: "alice", sig: "AAAAAAAAAAAAAAAAAAAAAA", at: in1, reason: "not_found"},
		{name: "foreign key", user: "alice", sig: foreign, at: in1, reason: "not_found"},
		{name: "early", user: "alice", sig: alice, at: t0.Add(-time.Millisecond), reason: "not_found"},
		{name: "between windows", user: "alice", sig: alice, at: t0.Add(90 * time.Minute), reason: "not_found"},
		{name: "first window link in second window", user: "alice", sig: alice, at: in2, reason: "not_found"},
		{name: "after the sale", user: "alice", sig: alice2, at: t0.Add(4 * time.Hour), reason: "not_found"},
		{name: "other activity", user: "alice", sig: alice, act: 1, at: in1, reason: "not_found"},
		{name: "anonymous", sig: alice, at: in1, reason: "not_found"},
		{name: "no segment", user: "alice", at: in1, reason: "not_found"},
		{name: "short", user: "alice", sig: alice[:21], at: in1, reason: "not_found"},
		{name: "long", user: "alice", sig: alice + "A", at: in1, reason: "not_found"},
		{name: "not base64", user: "alice", sig: "!!!!!!!!!!!!!!!!!!!!!!", at: in1, reason: "not_found"},
		{name: "non-canonical trailing bits", user: "alice", sig: alice[:21] + flipLow(alice[21]), at: in1, reason: "not_found"},
		{name: "wrong param", user: "alice", sig: alice, param: "s", at: in1, reason: "not_found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			param := "sig"
			if tc.param != "" {
				param = tc.param
			}
			if got := buy(t, f, env, tc.act, tc.user, param, tc.sig, tc.at); got != tc.reason {
				t.Fatalf("got %q, want %q", got, tc.reason)
			}
		})
	}
}

// flipLow changes one of the two low bits a 22-character segment's last
// character carries beyond its 128 bits.
func flipLow(c byte) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	return string(alphabet[strings.IndexByte(alphabet, c)^1])
}

func TestCustomParam(t *testing.T) {
	env := testEnv()
	f := filtertest.Filter[*filter](t, env, "hidden_path", map[string]any{"keys": keys("k1"), "param": "token"})
	_, sig := pathFor(t, filtertest.Endpoint[*endpoint](t, env, "purchase_path", map[string]any{"keys": keys("k1")}), env, 1, "carol", t0)
	if got := buy(t, f, env, 1, "carol", "token", sig, t0); got != "" {
		t.Fatalf("got %q", got)
	}
}

// TestNotFoundIsTheRouterPage: a wrong link must look exactly like a
// missing page, so the filter uses the router's 404 spec and shares it.
func TestNotFoundIsTheRouterPage(t *testing.T) {
	env := testEnv()
	f := filtertest.Filter[*filter](t, env, "hidden_path", map[string]any{"keys": keys("k1")})
	router := env.Pages.MustGet(gateway.PageSpec{Status: 404, Reason: "not_found", Kind: "not_found", Message: "No such page."})
	if f.notFound != router {
		t.Fatal("hidden_path 404 differs from the router's")
	}
}

func TestEndpoint(t *testing.T) {
	env := testEnv()
	e := filtertest.Endpoint[*endpoint](t, env, "purchase_path", map[string]any{"keys": keys("k1"), "path_prefix": "/shop/{activity}/buy/"})
	path, sig := pathFor(t, e, env, 0, "alice", t0)
	if path != "/shop/act1/buy/"+sig || len(sig) != sigText {
		t.Fatalf("path %q", path)
	}
	tests := []struct {
		name, user string
		act        int
		at         time.Time
		status     int
		want       string
	}{
		{"anonymous", "", 0, t0, 401, `"error":"unauthenticated"`},
		{"not started", "alice", 2, t0, 403, `{"error":"not_started","message":"The sale has not started yet.","status":403,"starts_at":"2030-01-03T12:00:00.000Z","server_time":"2030-01-02T12:00:00.000Z"}`},
		{"between windows", "alice", 0, t0.Add(90 * time.Minute), 403, `"starts_at":"2030-01-02T14:00:00.000Z"`},
		{"ended", "alice", 0, t0.Add(3 * time.Hour), 403, `"error":"ended"`},
		{"open", "alice", 0, t0.Add(time.Second), 200, `{"path":"/shop/act1/buy/` + sig + `"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := filtertest.Request(env.Activities[tc.act], tc.user, tc.at)
			e.Respond(r)
			resp := &r.Ctx.Response
			if resp.StatusCode() != tc.status || !strings.Contains(string(resp.Body()), tc.want) {
				t.Fatalf("got %d %s", resp.StatusCode(), resp.Body())
			}
			if string(resp.Header.Peek("Cache-Control")) != "no-store" || string(resp.Header.ContentType()) != "application/json" {
				t.Fatalf("headers %s", resp.Header.String())
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	const at = "routes[4].filters[1].hidden_path"
	tests := []struct {
		name     string
		cfg      interface{ Validate(conf.At) }
		settings map[string]any
		want     string
	}{
		{"no keys", newConfig(), map[string]any{}, at + ".keys: at least one key is required"},
		{"bad param", newConfig(), map[string]any{"keys": keys("k1"), "param": "{sig}"}, at + `.param: must be a route parameter name ([A-Za-z0-9_]+), got "{sig}"`},
		{"short secret", newConfig(), map[string]any{"keys": []any{map[string]any{"id": "k1", "secret": "x"}}}, at + ".keys[0].secret: must be at least 32 bytes, got 1"},
		{"relative prefix", newEndpointConfig(), map[string]any{"keys": keys("k1"), "path_prefix": "buy/"}, at + `.path_prefix: must be a path starting with / (no spaces, ?, #, quotes), got "buy/"`},
		{"unknown field", newEndpointConfig(), map[string]any{"keys": keys("k1"), "param": "sig"}, at + ": unknown field(s): param"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := conf.CheckSection(at, tc.settings, tc.cfg); err == nil || err.Error() != tc.want {
				t.Fatalf("got\n%v\nwant\n%s", err, tc.want)
			}
		})
	}
	env := filtertest.Env()
	if _, err := newConfig().Build(env); err == nil || err != errNoActivity {
		t.Fatalf("got %v", err)
	}
	if _, err := newEndpointConfig().Build(env); err == nil || err != errNoActivity {
		t.Fatalf("got %v", err)
	}
}
