//go:build !race

package token

import (
	"github.com/flashgate/flashgate/internal/filtertest"
	"testing"
	"time"
)

// TestHandleAllocs proves the order_token pass and reject paths allocate
// nothing (single_use off): pooled decode buffer, pooled HMAC, pre-built
// pages.
func TestHandleAllocs(t *testing.T) {
	env := testEnv()
	f := buildFilter(t, env, map[string]any{})
	good := mint(t, "k2", secretB, t0, "alice", "act1")
	tests := []struct {
		name, header, query, form, reason string
		at                                time.Duration
	}{
		{name: "pass header", header: good, at: 2 * time.Second},
		{name: "pass query", query: good, at: 2 * time.Second},
		{name: "pass form", form: good, at: 2 * time.Second},
		{name: "missing", reason: "token_missing"},
		{name: "malformed", header: "!!", reason: "token_malformed"},
		{name: "forged", header: mint(t, "k2", secretA, t0, "alice", "act1"), reason: "token_forged"},
		{name: "too young", header: good, reason: "token_too_young"},
		{name: "expired", header: good, at: time.Hour, reason: "token_expired"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := filtertest.Request(env.Activities[0], "alice", t0.Add(tc.at))
			if tc.header != "" {
				r.Ctx.Request.Header.Set("X-Order-Token", tc.header)
			}
			if tc.query != "" {
				r.Ctx.Request.SetRequestURI("/api/buy/act1?order_token=" + tc.query)
			}
			if tc.form != "" {
				r.Ctx.Request.Header.SetMethod("POST")
				r.Ctx.Request.Header.SetContentType("application/x-www-form-urlencoded")
				r.Ctx.Request.SetBodyString("order_token=" + tc.form)
			}
			run := func() {
				v, err := f.Handle(r)
				if err != nil || (v.Page == nil) != (tc.reason == "") || (v.Page != nil && v.Page.Reason != tc.reason) {
					t.Fatalf("verdict %+v err %v", v, err)
				}
			}
			if n := testing.AllocsPerRun(200, run); n != 0 {
				t.Fatalf("%v allocs per request, want 0", n)
			}
		})
	}
}
