package token

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/internal/filtertest"
)

// TestMinter: tokens minted offline from a config pass the real filter
// built from the same config, and age like issued ones.
func TestMinter(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "k1.secret"), []byte(secretA+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := conf.Parse([]byte(`
activities: [{id: act1, stock: 1}]
routes:
  - name: buy
    method: POST
    path: /buy/{activity}
    filters:
      - order_token: {keys: [{id: k1, secret_file: k1.secret}], min_age: 1s}
    action: {type: static, page: mug}
`))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Dir = dir
	m, err := MinterFor(cfg, "buy")
	if err != nil {
		t.Fatal(err)
	}
	env := testEnv()
	f := buildFilter(t, env, map[string]any{"keys": []any{map[string]any{"id": "k1", "secret": secretA}}})
	tests := []struct {
		name   string
		issued time.Time
		user   string
		reason string
	}{
		{"old enough", t0.Add(-2 * time.Second), "alice", ""},
		{"issued in the future stays young", t0.Add(time.Hour), "alice", "token_too_young"},
		{"other user", t0.Add(-2 * time.Second), "bob", "token_wrong_user"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := m.Append(nil, tc.issued, []byte("alice"), []byte("act1"))
			if err != nil {
				t.Fatal(err)
			}
			r := filtertest.Request(env.Activities[0], tc.user, t0)
			r.Ctx.Request.Header.Set("X-Order-Token", string(tok))
			if got, _ := filtertest.Outcome(t, f, r); got != tc.reason {
				t.Fatalf("reason %q, want %q", got, tc.reason)
			}
		})
	}
	if _, err := m.Append(nil, t0, nil, []byte("act1")); err == nil {
		t.Error("empty user minted")
	}
	for _, route := range []string{"nope"} {
		if _, err := MinterFor(cfg, route); err == nil {
			t.Errorf("MinterFor(%q) succeeded", route)
		}
	}
}
