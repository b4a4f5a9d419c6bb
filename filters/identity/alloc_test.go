//go:build !race

package identity

import (
	"github.com/flashgate/flashgate/internal/filtertest"
	"testing"
)

// TestHandleAllocs proves the hot path allocates nothing: a pooled scratch
// buffer and a pooled HMAC per key, no strings, no encoding/json.
func TestHandleAllocs(t *testing.T) {
	hs := filtertest.Filter[*filter](t, filtertest.Env(), "identity", hsSettings(nil))
	cookie := filtertest.Filter[*filter](t, filtertest.Env(), "identity", hsSettings(map[string]any{"cookie": "session"}))
	header := filtertest.Filter[*filter](t, filtertest.Env(), "identity", map[string]any{"header": "X-User-Id"})
	required := filtertest.Filter[*filter](t, filtertest.Env(), "identity", map[string]any{"header": "X-User-Id", "require": true})
	tok := hs256(t, claims("alice"))
	tests := []struct {
		name   string
		f      *filter
		r      []string
		reason string
	}{
		{"anonymous", hs, nil, ""},
		{"header", header, []string{"X-User-Id", "u-42"}, ""},
		{"hs256 bearer", hs, bearer(tok), ""},
		{"hs256 cookie", cookie, []string{"Cookie", "session=" + tok}, ""},
		{"reject unauthenticated", required, nil, "unauthenticated"},
		{"reject bad signature", hs, bearer(dropTail(tok, 4) + "AAAA"), "jwt_bad_signature"},
		{"reject expired", hs, bearer(hs256(t, map[string]any{"sub": "a", "exp": testNow.Unix() - 60})), "jwt_expired"},
		{"reject bad user", header, []string{"X-User-Id", "a b"}, "bad_user_id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := filtertest.Request(nil, "", testNow, tc.r...)
			run := func() {
				r.User = r.User[:0]
				v, err := tc.f.Handle(r)
				if err != nil || (v.Page == nil) != (tc.reason == "") || (v.Page != nil && v.Page.Reason != tc.reason) {
					t.Fatalf("verdict %+v, err %v", v, err)
				}
			}
			if n := testing.AllocsPerRun(200, run); n != 0 {
				t.Fatalf("%v allocs per request, want 0", n)
			}
		})
	}
}
