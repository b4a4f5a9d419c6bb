package token

import (
	"testing"

	"github.com/flashgate/flashgate/conf"
)

// TestConfigErrors checks the operator-facing text, YAML path included.
func TestConfigErrors(t *testing.T) {
	const at = "routes[2].filters[3].order_token"
	tests := []struct {
		name     string
		settings map[string]any
		want     string
	}{
		{"no keys", map[string]any{}, at + ".keys: at least one key is required"},
		{"short secret", map[string]any{"keys": []any{map[string]any{"id": "k1", "secret": "short"}}}, at + ".keys[0].secret: must be at least 32 bytes, got 5"},
		{"bad key id", map[string]any{"keys": []any{map[string]any{"id": "k.1", "secret": secretA}}}, at + `.keys[0].id: required, [A-Za-z0-9_-]{1,32}, got "k.1"`},
		{"duplicate key id", map[string]any{"keys": []any{map[string]any{"id": "k1", "secret": secretA}, map[string]any{"id": "k1", "secret": secretB}}}, at + `.keys[1].id: duplicate key id "k1"`},
		{"unknown key field", map[string]any{"keys": []any{map[string]any{"id": "k1", "secret": secretA, "algo": "x"}}}, at + ".keys[0]: unknown field(s): algo"},
		{"negative min_age", map[string]any{"keys": keysAB(), "min_age": "-1s"}, at + ".min_age: must be in 0s..10m0s, got -1s"},
		{"max_age below min_age", map[string]any{"keys": keysAB(), "min_age": "10s", "max_age": "5s"}, at + ".max_age: must be > min_age (10s) and <= 24h0m0s, got 5s"},
		{"bare number", map[string]any{"keys": keysAB(), "max_age": 300}, at + `.max_age: duration needs a unit, e.g. "300s"`},
		{"bad header", map[string]any{"keys": keysAB(), "header": "X Token"}, at + `.header: must be a header name, got "X Token"`},
		{"bad param", map[string]any{"keys": keysAB(), "param": "a=b"}, at + `.param: must be a plain field name, got "a=b"`},
		{"nowhere to look", map[string]any{"keys": keysAB(), "header": "", "param": ""}, at + ": one of header or param is required"},
		{"redis_timeout", map[string]any{"keys": keysAB(), "single_use": true, "redis_timeout": "0s"}, at + ".redis_timeout: must be in (0s, 5s], got 0s"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newConfig()
			if err := conf.CheckSection(at, tc.settings, c); err == nil || err.Error() != tc.want {
				t.Fatalf("got\n%v\nwant\n%s", err, tc.want)
			}
		})
	}
}

func TestEndpointConfigErrors(t *testing.T) {
	const at = "routes[1].action.config"
	c := &EndpointConfig{}
	var errs conf.Errors
	if err := conf.Decode(map[string]any{"keys": keysAB(), "min_age": "2s", "max_age": "1s", "header": "X"}, c); err != nil {
		errs.Add(at, err)
	}
	c.Validate(conf.At{Errs: &errs, Path: at})
	want := at + ": unknown field(s): header\n" + at + ".max_age: must be > min_age (2s) and <= 24h0m0s, got 1s"
	if err := errs.Err(); err == nil || err.Error() != want {
		t.Fatalf("got\n%v\nwant\n%s", err, want)
	}
}
