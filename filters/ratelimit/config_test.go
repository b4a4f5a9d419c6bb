package ratelimit

import (
	"testing"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/gateway"
	"github.com/flashgate/flashgate/internal/filtertest"
)

const at = "routes[0].filters[1].rate_limit"

// validate decodes raw like the gateway does (defaults from New, strict
// decode, Validate) and returns the joined error text, "" when valid.
func validate(t *testing.T, raw map[string]any) (*Config, string) {
	t.Helper()
	c := newConfig()
	if err := conf.CheckSection(at, raw, c); err != nil {
		return c, err.Error()
	}
	return c, ""
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		raw  map[string]any
		want string
	}{
		{"rate missing", map[string]any{}, at + ".rate: must be > 0, got 0"},
		{"rate negative", map[string]any{"rate": -1}, at + ".rate: must be > 0, got -1"},
		{"rate huge", map[string]any{"rate": 2e9}, at + ".rate: must be <= 1e9, got 2e+09"},
		{"bad scope", map[string]any{"rate": 10, "scope": "tenant"},
			at + `.scope: must be one of global, route, ip, user, item; got "tenant"`},
		{"burst negative", map[string]any{"rate": 10, "burst": -2}, at + ".burst: must be >= 1 (or 0 for max(1, rate)), got -2"},
		{"on_redis_error", map[string]any{"rate": 10, "on_redis_error": "allow"},
			at + `.on_redis_error: must be deny or local, got "allow"`},
		{"instances", map[string]any{"rate": 10, "instances": 0}, at + ".instances: must be >= 1, got 0"},
		{"redis_timeout", map[string]any{"rate": 10, "redis_timeout": "0s"}, at + ".redis_timeout: must be > 0, got 0s"},
		{"redis_timeout unitless", map[string]any{"rate": 10, "redis_timeout": 50},
			at + `.redis_timeout: duration needs a unit, e.g. "50s"`},
		{"max_keys", map[string]any{"rate": 10, "max_keys": 0}, at + ".max_keys: must be > 0, got 0"},
		{"unknown key", map[string]any{"rate": 10, "per": "minute"}, at + ": unknown field(s): per"},
		{"wrong type", map[string]any{"rate": "fast"}, at + ".rate: wrong type: expected a number, got a string"},
		{"all at once", map[string]any{"rate": 0, "scope": "x", "instances": -1},
			at + `.scope: must be one of global, route, ip, user, item; got "x"` + "\n" +
				at + ".rate: must be > 0, got 0\n" + at + ".instances: must be >= 1, got -1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, got := validate(t, tc.raw)
			if got != tc.want {
				t.Fatalf("errors:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	c, errText := validate(t, map[string]any{"rate": 2.5})
	if errText != "" {
		t.Fatal(errText)
	}
	if c.Scope != "ip" || c.OnRedisError != "deny" || c.Instances != 1 || c.RedisTimeout != defaultTimeout ||
		c.MaxKeys != 1_000_000 || c.Distributed || c.Name != "" {
		t.Fatalf("defaults: %+v", c)
	}
	for _, tc := range []struct {
		rate  float64
		burst int
		want  int
	}{{2.5, 0, 2}, {0.5, 0, 1}, {200, 0, 200}, {200, 20, 20}} {
		c := &Config{Rate: tc.rate, Burst: tc.burst}
		if got := c.burst(); got != tc.want {
			t.Errorf("rate %v burst %d: effective burst %d, want %d", tc.rate, tc.burst, got, tc.want)
		}
	}
}

func TestBuildErrors(t *testing.T) {
	act := gateway.NewActivity(0, conf.Activity{ID: "a1", Stock: 10, Shards: 1, PerUser: 1})
	tests := []struct {
		name   string
		cfg    map[string]any
		routed bool
		want   string
	}{
		{"item without activity", map[string]any{"scope": "item", "rate": 1}, false, "scope: item needs {activity} in the route path"},
		{"distributed without redis", map[string]any{"rate": 1, "distributed": true}, true, "distributed: true needs redis.addrs"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := gateway.NewEnv()
			env.Route = "r"
			if tc.routed {
				env.Activities = []*gateway.Activity{act}
			}
			_, err := filtertest.Build(t, env, "rate_limit", tc.cfg)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("Build error %v, want %q", err, tc.want)
			}
		})
	}
}

// Entries naming one bucket share it, and must agree on its settings.
func TestBuildShares(t *testing.T) {
	env := gateway.NewEnv()
	env.Route = "POST /buy"
	a, err := (&Config{Scope: "global", Rate: 10, MaxKeys: 10}).Build(env)
	if err != nil {
		t.Fatal(err)
	}
	env.Route = "GET /page"
	b, err := (&Config{Scope: "global", Rate: 10, MaxKeys: 10}).Build(env)
	if err != nil {
		t.Fatal(err)
	}
	if a.(*filter).l != b.(*filter).l {
		t.Fatal("two global entries did not share their bucket")
	}
	_, err = (&Config{Scope: "global", Rate: 20, MaxKeys: 10}).Build(env)
	want := `shares the global bucket "" with another rate_limit entry with other settings (rate 10, burst 10, distributed false); give this entry its own name`
	if err == nil || err.Error() != want {
		t.Fatalf("conflicting global: %v", err)
	}
	if _, err = (&Config{Scope: "global", Rate: 20, MaxKeys: 10, Name: "checkout"}).Build(env); err != nil {
		t.Fatalf("a named global bucket: %v", err)
	}
	// ip buckets are per entry by default, even on one route (a short and
	// a long limit per IP); a name shares them.
	env.Path = "routes[0].filters[1].rate_limit"
	c, _ := (&Config{Scope: "ip", Rate: 10, MaxKeys: 10}).Build(env)
	env.Path = "routes[0].filters[2].rate_limit"
	d, _ := (&Config{Scope: "ip", Rate: 0.5, Burst: 100, MaxKeys: 10}).Build(env)
	env.Path = "routes[1].filters[0].rate_limit"
	e, _ := (&Config{Scope: "ip", Rate: 5, MaxKeys: 10, Name: "site"}).Build(env)
	env.Path = "routes[2].filters[0].rate_limit"
	g, _ := (&Config{Scope: "ip", Rate: 5, MaxKeys: 10, Name: "site"}).Build(env)
	if c.(*filter).l == d.(*filter).l || e.(*filter).l != g.(*filter).l {
		t.Fatal("ip buckets: entries must have their own unless they share a name")
	}
	for _, f := range []gateway.Filter{c, d, e} {
		f.(*filter).l.Close()
	}
}
