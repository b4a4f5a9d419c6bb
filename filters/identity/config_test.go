package identity

import (
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/gateway"
	"github.com/flashgate/flashgate/internal/filtertest"
)

func bigOne() *big.Int { return big.NewInt(1) }

func containsErr(err error, want string) bool { return strings.Contains(err.Error(), want) }

// TestConfigErrors decodes settings as the gateway does and checks the
// exact operator-facing text, YAML path included.
func TestConfigErrors(t *testing.T) {
	const at = "routes[0].filters[0].identity"
	secret := string(testSecret)
	tests := []struct {
		name     string
		settings map[string]any
		want     string
	}{
		{"empty", map[string]any{}, at + ": one of header or jwt is required"},
		{"bad header", map[string]any{"header": "X User"}, at + `.header: must be a header name, got "X User"`},
		{"unknown key", map[string]any{"headr": "X-User-Id"}, at + ": unknown field(s): headr\n" + at + ": one of header or jwt is required"},
		{"alg none", map[string]any{"jwt": map[string]any{"alg": "none"}}, at + `.jwt.alg: must be HS256 or RS256, got "none"`},
		{"alg missing", map[string]any{"jwt": map[string]any{"cookie": "session"}}, at + ".jwt.alg: required when jwt is set: HS256 or RS256"},
		{"short secret", map[string]any{"jwt": map[string]any{"alg": "HS256", "secret": "short"}}, at + ".jwt.secret: must be at least 32 bytes, got 5"},
		{"no secret", map[string]any{"jwt": map[string]any{"alg": "HS256"}}, at + ".jwt.secret: required for HS256 (or secret_file)"},
		{"both secrets", map[string]any{"jwt": map[string]any{"alg": "HS256", "secret": secret, "secret_file": "/k"}}, at + ".jwt: set one of secret or secret_file, not both"},
		{"hs256 with public key", map[string]any{"jwt": map[string]any{"alg": "HS256", "secret": secret, "public_key_file": "/k.pem"}}, at + ".jwt.public_key_file: only for RS256"},
		{"rs256 without key", map[string]any{"jwt": map[string]any{"alg": "RS256"}}, at + ".jwt.public_key_file: required for RS256"},
		{"rs256 with secret", map[string]any{"jwt": map[string]any{"alg": "RS256", "public_key_file": "/k.pem", "secret": secret}}, at + ".jwt.secret: only for HS256; RS256 verifies with public_key_file"},
		{"empty claim", map[string]any{"jwt": map[string]any{"alg": "HS256", "secret": secret, "claim": ""}}, at + `.jwt.claim: must be 1..64 bytes, got ""`},
		{"bad cookie", map[string]any{"jwt": map[string]any{"alg": "HS256", "secret": secret, "cookie": "a;b"}}, at + `.jwt.cookie: must be a cookie name, got "a;b"`},
		{"leeway too big", map[string]any{"jwt": map[string]any{"alg": "HS256", "secret": secret, "leeway": "1h"}}, at + ".jwt.leeway: must be in 0s..10m0s, got 1h0m0s"},
		{"negative leeway", map[string]any{"jwt": map[string]any{"alg": "HS256", "secret": secret, "leeway": "-1s"}}, at + ".jwt.leeway: must be in 0s..10m0s, got -1s"},
		{"leeway without unit", map[string]any{"jwt": map[string]any{"alg": "HS256", "secret": secret, "leeway": 5}}, at + `.jwt.leeway: duration needs a unit, e.g. "5s"`},
		{"require not bool", map[string]any{"header": "X-User-Id", "require": "yes"}, at + ".require: wrong type: expected true or false, got a string"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newConfig()
			err := conf.CheckSection(at, tc.settings, c)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("got\n%v\nwant\n%s", err, tc.want)
			}
		})
	}
}

func TestSecretFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	short := filepath.Join(dir, "short")
	if err := os.WriteFile(good, append(append([]byte(nil), testSecret...), '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(short, []byte("tiny\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f := filtertest.Filter[*filter](t, filtertest.Env(), "identity", map[string]any{"jwt": map[string]any{"alg": "HS256", "secret_file": good}})
	if reason, user := outcomeOf(t, f, filtertest.Request(nil, "", testNow, bearer(hs256(t, claims("filed")))...)); reason != "" || user != "filed" {
		t.Fatalf("got %q %q", reason, user)
	}
	c := &Config{JWT: JWTConfig{Alg: "HS256", SecretFile: short, Claim: "sub"}}
	_, err := c.Build(gateway.NewEnv())
	want := "jwt.secret_file: " + short + " holds 4 bytes, need at least 32"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
}
