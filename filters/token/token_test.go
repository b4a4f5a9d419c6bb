package token

import (
	"encoding/base64"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/filters/internal/keyring"
	"github.com/flashgate/flashgate/gateway"
	"github.com/flashgate/flashgate/internal/filtertest"
)

// mint signs a token with an arbitrary key, as another gateway or an
// attacker with a guessed secret would.
func mint(t testing.TB, id, secret string, issued time.Time, user, act string) string {
	t.Helper()
	ring, err := keyring.New([]string{id}, [][]byte{[]byte(secret)})
	if err != nil {
		t.Fatal(err)
	}
	var bin [maxBinary]byte
	var sum [32]byte
	nonce := []byte("0123456789ab")
	out, good := appendToken(nil, bin[:], ring.Primary(), issued.UnixMilli(), nonce, []byte(user), []byte(act), &sum)
	if !good {
		t.Fatal("appendToken refused")
	}
	return string(out)
}

// mutate decodes tok, applies f to its bytes and re-encodes it.
func mutate(tok string, f func(b []byte) []byte) string {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(f(b))
}

func TestFilterReasons(t *testing.T) {
	env := testEnv()
	good := mint(t, "k2", secretB, t0, "alice", "act1")
	type req struct {
		header, query, form string
		user                string
		act                 int
		at                  time.Duration // after t0
	}
	tests := []struct {
		name     string
		settings map[string]any
		req      req
		reason   string
		retry    string
	}{
		{"header", nil, req{header: good, user: "alice", at: time.Second}, "", ""},
		{"query", nil, req{query: good, user: "alice", at: 2 * time.Second}, "", ""},
		{"form", nil, req{form: good, user: "alice", at: 2 * time.Second}, "", ""},
		{"custom header and param", map[string]any{"header": "X-T", "param": "t"}, req{query: good, user: "alice", at: 2 * time.Second}, "", ""},
		{"rotated key still verifies", nil, req{header: mint(t, "k1", secretA, t0, "alice", "act1"), user: "alice", at: time.Minute}, "", ""},
		{"just before max_age", nil, req{header: good, user: "alice", at: 5*time.Minute - time.Millisecond}, "", ""},
		{"min_age 0", map[string]any{"min_age": "0s"}, req{header: good, user: "alice"}, "", ""},

		{"missing", nil, req{user: "alice", at: time.Minute}, "token_missing", ""},
		{"missing when only header is read", map[string]any{"param": ""}, req{query: good, user: "alice", at: time.Minute}, "token_missing", ""},
		{"not base64", nil, req{header: "not base64!", user: "alice", at: time.Minute}, "token_malformed", ""},
		{"base64 with newline", nil, req{query: good[:10] + "\n" + good[10:], user: "alice", at: time.Minute}, "token_malformed", ""},
		{"too long", nil, req{header: strings.Repeat("A", maxText+4), user: "alice", at: time.Minute}, "token_malformed", ""},
		{"truncated", nil, req{header: good[:len(good)-4], user: "alice", at: time.Minute}, "token_malformed", ""},
		{"version 2", nil, req{header: mutate(good, func(b []byte) []byte { b[0] = 2; return b }), user: "alice", at: time.Minute}, "token_malformed", ""},
		{"trailing byte", nil, req{header: mutate(good, func(b []byte) []byte { return append(b, 0) }), user: "alice", at: time.Minute}, "token_malformed", ""},

		{"unknown key id", nil, req{header: mint(t, "k9", secretA, t0, "alice", "act1"), user: "alice", at: time.Minute}, "token_forged", ""},
		{"guessed secret", nil, req{header: mint(t, "k1", secretB, t0, "alice", "act1"), user: "alice", at: time.Minute}, "token_forged", ""},
		{"flipped tag", nil, req{header: mutate(good, func(b []byte) []byte { b[len(b)-1] ^= 1; return b }), user: "alice", at: time.Minute}, "token_forged", ""},
		{"edited user", nil, req{header: mutate(mint(t, "k2", secretB, t0, "alicf", "act1"), func(b []byte) []byte {
			return []byte(strings.Replace(string(b), "alicf", "alice", 1))
		}), user: "alice", at: time.Minute}, "token_forged", ""},

		{"too young", nil, req{header: good, user: "alice", at: 500 * time.Millisecond}, "token_too_young", "1"},
		{"too young at issue", nil, req{header: good, user: "alice"}, "token_too_young", "1"},
		{"too young rounds up", map[string]any{"min_age": "3s"}, req{header: good, user: "alice", at: 400 * time.Millisecond}, "token_too_young", "3"},
		{"too young 2s left", map[string]any{"min_age": "3s"}, req{header: good, user: "alice", at: 1000 * time.Millisecond}, "token_too_young", "2"},
		// A signer whose clock is ahead: the whole wait, rounded up, capped at 60 s.
		{"issued in the future", map[string]any{"min_age": "3s"}, req{header: mint(t, "k2", secretB, t0.Add(time.Minute), "alice", "act1"), user: "alice"}, "token_too_young", "60"},
		{"issued 100s in the future", nil, req{header: mint(t, "k2", secretB, t0.Add(100*time.Second), "alice", "act1"), user: "alice"}, "token_too_young", "60"},
		{"issued 20.5s in the future", nil, req{header: mint(t, "k2", secretB, t0.Add(20500*time.Millisecond), "alice", "act1"), user: "alice"}, "token_too_young", "22"},
		// The binding is checked before the age: another user's young token is not "too young".
		{"too young and another user's", nil, req{header: good, user: "bob", at: 500 * time.Millisecond}, "token_wrong_user", ""},
		{"too young and another activity's", nil, req{header: good, user: "alice", act: 1, at: 500 * time.Millisecond}, "token_wrong_activity", ""},

		{"expired", nil, req{header: good, user: "alice", at: 5 * time.Minute}, "token_expired", ""},
		{"expired custom max_age", map[string]any{"max_age": "10s"}, req{header: good, user: "alice", at: 10 * time.Second}, "token_expired", ""},

		{"other user", nil, req{header: good, user: "bob", at: time.Minute}, "token_wrong_user", ""},
		{"anonymous", nil, req{header: good, at: time.Minute}, "token_wrong_user", ""},
		{"other activity", nil, req{header: good, user: "alice", act: 1, at: time.Minute}, "token_wrong_activity", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			settings := map[string]any{}
			for k, v := range tc.settings {
				settings[k] = v
			}
			f := buildFilter(t, env, settings)
			r := filtertest.Request(env.Activities[tc.req.act], tc.req.user, t0.Add(tc.req.at))
			if tc.req.header != "" {
				r.Ctx.Request.Header.Set(headerName(settings), tc.req.header)
			}
			param := "order_token"
			if p, set := settings["param"].(string); set && p != "" {
				param = p
			}
			if tc.req.query != "" {
				r.Ctx.Request.SetRequestURI("/api/buy/act1?" + param + "=" + url.QueryEscape(tc.req.query))
			}
			if tc.req.form != "" {
				r.Ctx.Request.Header.SetMethod("POST")
				r.Ctx.Request.Header.SetContentType("application/x-www-form-urlencoded")
				r.Ctx.Request.SetBodyString("qty=1&" + param + "=" + url.QueryEscape(tc.req.form))
			}
			reason, retry := filtertest.Outcome(t, f, r)
			if reason != tc.reason || retry != tc.retry {
				t.Fatalf("got %q (Retry-After %q), want %q (%q)", reason, retry, tc.reason, tc.retry)
			}
		})
	}
}

func headerName(settings map[string]any) string {
	if h, set := settings["header"].(string); set {
		return h
	}
	return "X-Order-Token"
}

func TestPages(t *testing.T) {
	f := buildFilter(t, testEnv(), map[string]any{"min_age": "90s"})
	want := map[outcome]int{missing: 403, malformed: 400, forged: 403, expired: 403, wrongUser: 403, wrongActivity: 403, replayed: 403}
	for o, status := range want {
		if p := f.pages[o]; p == nil || p.Status != status || !strings.Contains(string(p.JSON), `"error":"`+p.Reason+`"`) {
			t.Fatalf("page %d: %+v", o, p)
		}
	}
	if len(f.young) != maxRetryPages || f.young[59].Status != 429 || f.youngPage(200_000) != f.young[59] {
		t.Fatalf("too-young pages: %d", len(f.young))
	}
}

func TestEndpoint(t *testing.T) {
	env := testEnv()
	e := buildEndpoint(t, env, map[string]any{"min_age": "2s", "max_age": "1m"})
	f := buildFilter(t, env, map[string]any{"min_age": "2s", "max_age": "1m"})
	now := t0.Add(123 * time.Millisecond)
	got := issue(t, e, env, 1, "alice", now)
	if !got.IssuedAt.Equal(now) || !got.UsableFrom.Equal(now.Add(2*time.Second)) || !got.ExpiresAt.Equal(now.Add(time.Minute)) {
		t.Fatalf("times: %+v", got)
	}
	r := filtertest.Request(env.Activities[1], "alice", now)
	e.Respond(r)
	if cc := string(r.Ctx.Response.Header.Peek("Cache-Control")); cc != "no-store" {
		t.Fatalf("Cache-Control %q", cc)
	}
	if again := issue(t, e, env, 1, "alice", now); again.Token == got.Token {
		t.Fatal("two tokens share a nonce")
	}
	for _, tc := range []struct {
		at     time.Time
		reason string
	}{{got.UsableFrom.Add(-time.Millisecond), "token_too_young"}, {got.UsableFrom, ""}, {got.ExpiresAt, "token_expired"}} {
		r := filtertest.Request(env.Activities[1], "alice", tc.at)
		r.Ctx.Request.Header.Set("X-Order-Token", got.Token)
		if reason, _ := filtertest.Outcome(t, f, r); reason != tc.reason {
			t.Fatalf("at %s: %q, want %q", tc.at, reason, tc.reason)
		}
	}

	anon := filtertest.Request(env.Activities[0], "", now)
	e.Respond(anon)
	body := string(anon.Ctx.Response.Body())
	if anon.Ctx.Response.StatusCode() != 401 || !strings.Contains(body, `"error":"unauthenticated"`) ||
		string(anon.Ctx.Response.Header.ContentType()) != "application/json" {
		t.Fatalf("anonymous: %d %s", anon.Ctx.Response.StatusCode(), body)
	}
}

func TestBuildNeedsActivityAndRedis(t *testing.T) {
	env := gateway.NewEnv()
	c := newConfig()
	filtertest.Decode(t, "order_token", map[string]any{"keys": keysAB()}, c)
	if _, err := c.Build(env); err == nil || err.Error() != errNoActivity.Error() {
		t.Fatalf("got %v", err)
	}
	ec := newEndpointConfig()
	filtertest.Decode(t, "order_token", map[string]any{"keys": keysAB()}, ec)
	if _, err := ec.Build(env); err == nil || err.Error() != errNoActivity.Error() {
		t.Fatalf("got %v", err)
	}
	c = newConfig()
	filtertest.Decode(t, "order_token", map[string]any{"keys": keysAB(), "single_use": true}, c)
	if _, err := c.Build(testEnv()); err == nil || err.Error() != "single_use needs redis.addrs: used tokens are remembered in Redis" {
		t.Fatalf("got %v", err)
	}
}

// TestSharedRing checks that the endpoint and filter configured with the
// same keys share one ring.
func TestSharedRing(t *testing.T) {
	env := testEnv()
	if buildEndpoint(t, env, map[string]any{}).ring != buildFilter(t, env, map[string]any{}).ring {
		t.Fatal("two rings for one key set")
	}
}

// TestNoTokenOutsideTheSale: a token fetched before the sale opens would
// already be old enough at the start, so none is issued then, nor after.
func TestNoTokenOutsideTheSale(t *testing.T) {
	env := gateway.NewEnv()
	a := gateway.NewActivity(0, conf.Activity{ID: "later", Stock: 1, Shards: 1, PerUser: 1,
		Windows: []conf.Window{{Start: t0.Add(time.Hour), End: t0.Add(2 * time.Hour)}}})
	env.Activities = []*gateway.Activity{a}
	env.AllActivities[a.ID] = a
	e := buildEndpoint(t, env, map[string]any{})
	for _, tc := range []struct {
		at   time.Time
		code int
	}{{t0, 403}, {t0.Add(90 * time.Minute), 200}, {t0.Add(3 * time.Hour), 403}} {
		r := filtertest.Request(env.Activities[0], "u1", tc.at)
		e.Respond(r)
		if got := r.Ctx.Response.StatusCode(); got != tc.code {
			t.Errorf("at %s: %d, want %d: %s", tc.at, got, tc.code, r.Ctx.Response.Body())
		}
		if tc.code == 403 && string(r.Ctx.Response.Header.Peek("X-Flashgate-Reason")) != "sale_closed" {
			t.Errorf("reason %q", r.Ctx.Response.Header.Peek("X-Flashgate-Reason"))
		}
	}
}
