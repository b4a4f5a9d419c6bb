package conf_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flashgate/flashgate/conf"
	_ "github.com/flashgate/flashgate/filters" // the registry conf decodes sections with
)

// TestBadConfigs pairs each fixture in testdata/bad with the exact errors
// it must produce: every problem, each with its YAML path.
func TestBadConfigs(t *testing.T) {
	files, err := filepath.Glob("testdata/bad/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			want, err := os.ReadFile(strings.TrimSuffix(f, ".yaml") + ".err")
			if err != nil {
				t.Fatal(err)
			}
			_, err = conf.Load(f)
			if err == nil {
				t.Fatal("config accepted")
			}
			var lines []string
			for _, l := range strings.Split(strings.TrimSpace(string(want)), "\n") {
				lines = append(lines, filepath.Base(f)+": "+l)
			}
			if got := err.Error(); got != strings.Join(lines, "\n") {
				t.Errorf("errors:\n%s\nwant:\n%s", got, strings.Join(lines, "\n"))
			}
		})
	}
}

// oneRoute makes a minimal config valid: a config needs a route.
const oneRoute = "\nroutes: [{path: /x, action: {type: json, endpoint: activity_status}}]\n"

func TestDefaults(t *testing.T) {
	cfg, err := conf.Parse([]byte("activities: [{id: a1, stock: 5}]\nupstreams: [{name: o, addrs: ['127.0.0.1:1']}]\n" + oneRoute))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"listen", cfg.Server.Listen, "127.0.0.1:8080"},
		{"read_timeout", cfg.Server.ReadTimeout, 5 * time.Second},
		{"max_inflight", cfg.Server.MaxInflight, 10000},
		{"keep_alive", cfg.Server.KeepAlive, true},
		{"stock.store", cfg.Stock.Store, "memory"},
		{"redis.timeout", cfg.Redis.Timeout, 100 * time.Millisecond},
		{"activity product", cfg.Activities[0].Product, "a1"},
		{"activity shards", cfg.Activities[0].Shards, 4},
		{"activity per_user", cfg.Activities[0].PerUser, int64(1)},
		{"activity pay_within", cfg.Activities[0].PayWithin, time.Duration(0)},
		{"upstream timeout", cfg.Upstreams[0].Timeout, 3 * time.Second},
		{"upstream max_conns", cfg.Upstreams[0].MaxConns, 512},
		{"upstream breaker_probes", cfg.Upstreams[0].BreakerProbes, 1},
		{"redis.breaker_failures", cfg.Redis.BreakerFailures, 5},
		{"redis.breaker_open", cfg.Redis.BreakerOpen, time.Second},
		{"redis.breaker_probes", cfg.Redis.BreakerProbes, 1},
		{"redis.wait_replicas", cfg.Redis.WaitReplicas, 0},
		{"redis.wait_timeout", cfg.Redis.WaitTimeout, 50 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %v, want %v", tc.got, tc.want)
			}
		})
	}
}

func TestQueueDefaults(t *testing.T) {
	cfg, err := conf.Parse([]byte(`
upstreams: [{name: o, addrs: ['127.0.0.1:1']}]
routes:
  - {method: POST, path: /s, action: {type: proxy, upstream: o}}
  - {method: POST, path: /a, action: {type: proxy, upstream: o, mode: async, queue: {rate: 200}}}
`))
	if err != nil {
		t.Fatal(err)
	}
	q := cfg.Routes[1].Action.Queue
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"mode", cfg.Routes[0].Action.Mode, "sync"},
		{"sync has no queue", cfg.Routes[0].Action.Queue == nil, true},
		{"rate", q.Rate, 200.0},
		{"max_inflight", q.MaxInflight, 32},
		{"attempts", q.Attempts, 6},
		{"backoff", q.Backoff, 200 * time.Millisecond},
		{"backoff_max", q.BackoffMax, 10 * time.Second},
		{"capacity", q.Capacity, 65536},
		{"claim_idle", q.ClaimIdle, 30 * time.Second},
		{"max_wait", q.MaxWait, 10 * time.Minute},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %v, want %v", tc.got, tc.want)
			}
		})
	}
}

// TestPayWithinAsync: an async route may sell an activity with
// pay_within (the unpaid expiry retracts the queued order first, see
// stock/doc.go), on either store.
func TestPayWithinAsync(t *testing.T) {
	for _, store := range []string{"memory", "redis"} {
		t.Run(store, func(t *testing.T) {
			yaml := `
stock: {store: ` + store + `}
redis: {addrs: ['127.0.0.1:6379']}
upstreams: [{name: o, addrs: ['127.0.0.1:1']}]
activities: [{id: paid-later, stock: 5, pay_within: 15m}]
routes:
  - {method: POST, path: "/buy/{activity}", action: {type: proxy, upstream: o, mode: async, queue: {rate: 5}}}
`
			cfg, err := conf.Parse([]byte(yaml))
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.Activities[0].PayWithin; got != 15*time.Minute {
				t.Fatalf("pay_within %v", got)
			}
		})
	}
}

func TestEnvOverride(t *testing.T) {
	t.Setenv("FLASHGATE_SERVER_LISTEN", "127.0.0.1:9999")
	t.Setenv("FLASHGATE_ADMIN_LISTEN", "127.0.0.1:9998")
	t.Setenv("FLASHGATE_ADMIN_TOKEN", "0123456789abcdef0123")
	t.Setenv("FLASHGATE_SERVER_MAX_INFLIGHT", "5")
	t.Setenv("FLASHGATE_SERVER_KEEP_ALIVE", "false")
	t.Setenv("FLASHGATE_STOCK_SHARDS", "8")
	t.Setenv("FLASHGATE_REDIS_TIMEOUT", "50ms")
	cfg, err := conf.Parse([]byte("server: {listen: '127.0.0.1:1'}\n" + oneRoute))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.Listen != "127.0.0.1:9999" || cfg.Admin.Token != "0123456789abcdef0123" ||
		cfg.Server.MaxInflight != 5 || cfg.Server.KeepAlive || cfg.Stock.Shards != 8 || cfg.Redis.Timeout != 50*time.Millisecond {
		t.Errorf("env not applied: %+v %+v %+v %+v", cfg.Server, cfg.Admin, cfg.Stock, cfg.Redis)
	}
	t.Setenv("FLASHGATE_SERVER_MAX_INFLIGHT", "lots")
	if _, err := conf.Parse([]byte(oneRoute)); err == nil || !strings.Contains(err.Error(), "FLASHGATE_SERVER_MAX_INFLIGHT (environment, overrides server.max_inflight): wrong type") {
		t.Errorf("bad env value: %v", err)
	}
}

func TestFractionForInteger(t *testing.T) {
	_, err := conf.Parse([]byte("server: {max_conns: 2.5}\n" + oneRoute))
	if err == nil || err.Error() != "server.max_conns: must be a whole number, got 2.5" {
		t.Fatalf("got %v", err)
	}
	if _, err := conf.Parse([]byte("server: {max_conns: 2.0}\n" + oneRoute)); err != nil {
		t.Fatalf("2.0 refused: %v", err)
	}
}

func TestWindows(t *testing.T) {
	cfg, err := conf.Parse([]byte(`
activities:
  - {id: a, stock: 1, start: "2030-01-01T10:00:00Z", end: "2030-01-01T11:00:00Z"}
  - id: b
    stock: 1
    windows:
      - {start: "2030-01-01T10:00:00Z", end: "2030-01-01T09:00:00Z"}
`))
	if err == nil || !strings.Contains(err.Error(), "activities[1].windows[0]: end 2030-01-01T09:00:00Z must be after start") {
		t.Fatalf("want window error, got %v", err)
	}
	// Windows that only touch ([start, end) each) are two periods.
	if _, err := conf.Parse([]byte(`activities: [{id: a, stock: 1, windows: [{start: "2030-01-01T10:00:00Z", end: "2030-01-01T11:00:00Z"}, {start: "2030-01-01T11:00:00Z", end: "2030-01-01T12:00:00Z"}, {start: "2030-01-02T10:00:00Z"}]}]` + oneRoute)); err != nil {
		t.Fatalf("touching windows: %v", err)
	}
	cfg, err = conf.Parse([]byte(`activities: [{id: a, stock: 1, start: "2030-01-01T10:00:00Z", end: "2030-01-01T11:00:00Z"}]` + oneRoute))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Activities[0].Windows) != 1 || cfg.Activities[0].Windows[0].Start.Hour() != 10 {
		t.Errorf("start/end not turned into a window: %+v", cfg.Activities[0].Windows)
	}
	for _, tc := range []struct{ name, act, want string }{
		{"start/end beside windows",
			`{id: a, stock: 1, start: "2030-06-01T12:00:00Z", end: "2030-06-01T13:00:00Z", windows: [{start: "2031-01-01T12:00:00Z", end: "2031-01-01T13:00:00Z"}]}`,
			"activities[0].windows: set start/end (one window) or windows, not both"},
		{"an empty window would open the sale now",
			`{id: a, stock: 1, windows: [{start: "2030-01-01T12:00:00Z", end: "2030-01-01T13:00:00Z"}, {}]}`,
			"activities[0].windows[1]: start or end is required"},
		{"overlapping windows",
			`{id: a, stock: 1, windows: [{start: "2030-01-01T12:00:00Z", end: "2030-01-01T13:00:00Z"}, {start: "2030-01-01T12:30:00Z", end: "2030-01-01T14:00:00Z"}]}`,
			"activities[0].windows[1]: overlaps windows[0] (2030-01-01T12:00:00Z..2030-01-01T13:00:00Z)"},
		{"a window open at its start overlaps a later one",
			`{id: a, stock: 1, windows: [{start: "2030-01-02T12:00:00Z", end: "2030-01-02T13:00:00Z"}, {end: "2030-01-03T00:00:00Z"}]}`,
			"activities[0].windows[1]: overlaps windows[0]"},
		{"start/end reversed names end, not windows",
			`{id: a, stock: 1, start: "2030-01-01T12:00:00Z", end: "2030-01-01T11:00:00Z"}`,
			"activities[0].end: end 2030-01-01T11:00:00Z must be after start"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := conf.Parse([]byte("activities: [" + tc.act + "]" + oneRoute))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

// TestRunTimeErrors: what serve would show only at run time, or blame on
// the wrong place, is refused at load, each with the path (or the
// variable) to fix.
func TestRunTimeErrors(t *testing.T) {
	up := "upstreams: [{name: o, addrs: ['127.0.0.1:1'], timeout: 3s}]\n"
	tests := []struct {
		name string
		env  map[string]string
		yaml string
		want string // the whole error
	}{
		{"no routes", nil, up, "routes: at least one route is required: without one every request is a 404"},
		{"empty routes", nil, up + "routes: []\n", "routes: at least one route is required: without one every request is a 404"},
		{"shutdown shorter than an upstream timeout", nil, "server: {shutdown_timeout: 2s}\n" + up + oneRoute,
			"server.shutdown_timeout: 2s is shorter than upstreams[0].timeout 3s: orders in flight at shutdown would be cut off"},
		{"shutdown shorter, from the environment", map[string]string{"FLASHGATE_SERVER_SHUTDOWN_TIMEOUT": "1s"}, up + oneRoute,
			"FLASHGATE_SERVER_SHUTDOWN_TIMEOUT (environment, overrides server.shutdown_timeout): 1s is shorter than upstreams[0].timeout 3s: orders in flight at shutdown would be cut off"},
		{"bad env duration", map[string]string{"FLASHGATE_REDIS_TIMEOUT": "soon"}, oneRoute,
			`FLASHGATE_REDIS_TIMEOUT (environment, overrides redis.timeout): time: invalid duration "soon"`},
		{"bad env value the file does not set", map[string]string{"FLASHGATE_LOG_LEVEL": "loud"}, oneRoute,
			`FLASHGATE_LOG_LEVEL (environment, overrides log.level): must be one of debug, info, warn, error; got "loud"`},
		{"the file's own error is the file's", map[string]string{"FLASHGATE_LOG_FORMAT": "json"}, "log: {level: loud}\n" + oneRoute,
			`log.level: must be one of debug, info, warn, error; got "loud"`},
		{"two routes of one name", nil, "routes: [{name: home, path: /a, action: {type: json, endpoint: activity_status}}, {name: home, path: /b, action: {type: json, endpoint: activity_status}}]\n",
			`routes[1].name: duplicate route name "home" (routes[0] has it): their metrics and access log lines would merge`},
		{"bad home link", nil, "static: {home: 'javascript:alert(1)'}\n" + oneRoute,
			`static.home: must be a path starting with / or an http(s) URL, got "javascript:alert(1)"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			_, err := conf.Parse([]byte(tc.yaml))
			if err == nil || err.Error() != tc.want {
				t.Errorf("got  %v\nwant %s", err, tc.want)
			}
		})
	}
}

func TestEnvName(t *testing.T) {
	for path, want := range map[string]string{
		"server.max_inflight": "FLASHGATE_SERVER_MAX_INFLIGHT", "admin.token": "FLASHGATE_ADMIN_TOKEN",
		"routes[0].path": "", "": "",
	} {
		if got := conf.EnvName(path); got != want {
			t.Errorf("conf.EnvName(%q) = %q, want %q", path, got, want)
		}
	}
}

func TestExamplesLoad(t *testing.T) {
	for _, f := range []string{"demo.yaml", "flashgate.example.yaml"} {
		if _, err := conf.Load(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// FuzzParse: no input may panic the loader; it either loads or errors,
// never both.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/bad/*.yaml")
	seeds = append(seeds, "demo.yaml", "flashgate.example.yaml")
	for _, s := range seeds {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("routes: [{path: /x, filters: [{stock: {timeout: 1s}}], action: {type: json, endpoint: e, config: {a: 1}}}]"))
	f.Add([]byte("activities: [{id: a, windows: [{start: 1}]}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := conf.Parse(data)
		if (err == nil) != (cfg != nil) {
			t.Fatalf("config %v beside error %v: exactly one of them", cfg != nil, err)
		}
	})
}

// TestKeysCheckedOnTheYAMLTree: a key is known or unknown by the schema,
// whatever its value; viper's flattening drops empty values, so these were
// once accepted. Merge keys and environment overrides still work.
func TestKeysCheckedOnTheYAMLTree(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		yaml string
		want string // "" for accepted
	}{
		{"empty map", nil, "logging: {}\n" + oneRoute, "unknown field(s): logging"},
		{"null", nil, "logging:\n" + oneRoute, "unknown field(s): logging"},
		{"nested empty map", nil, "redis: {addrz: {}}\n" + oneRoute, "redis: unknown field(s): addrz"},
		{"empty list", nil, "admin: {tokens: []}\n" + oneRoute, "admin: unknown field(s): tokens"},
		{"in a list item", nil, "routes: [{path: /x, shed_: {}, action: {type: json, endpoint: activity_status}}]\n",
			"routes[0]: unknown field(s): shed_"},
		{"known empty sections", nil, "server: {tls: {}}\nlog:\nreload: {}\n" + oneRoute, ""},
		{"merge key", nil, "base: &b {listen: '127.0.0.1:1'}\nserver: {<<: *b}\n" + oneRoute, "unknown field(s): base"},
		{"merged keys are checked", nil, "x: &b {listen: '127.0.0.1:1', nope: 1}\nserver:\n  <<: *b\n" + oneRoute,
			"server: unknown field(s): nope\nunknown field(s): x"},
		{"env override beside an empty section", map[string]string{"FLASHGATE_SERVER_MAX_INFLIGHT": "5"}, "server: {}\n" + oneRoute, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			_, err := conf.Parse([]byte(tc.yaml))
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

// TestUnknownEnvironmentVariable: a FLASHGATE_* variable a couple of
// edits from a setting is an error naming both, as an unknown YAML key is:
// a misspelt override would be dropped without a word. Other FLASHGATE_*
// names (Kubernetes service links of a Service named flashgate, a CI's
// own) are not the gateway's and are left alone.
func TestUnknownEnvironmentVariable(t *testing.T) {
	for k, v := range map[string]string{
		"FLASHGATE_SERVICE_HOST": "10.0.0.7", "FLASHGATE_SERVICE_PORT": "8080", "FLASHGATE_PORT": "tcp://10.0.0.7:8080",
		"FLASHGATE_PORT_8080_TCP_ADDR": "10.0.0.7", "FLASHGATE_REDIS_SERVICE_HOST": "10.0.0.8", "FLASHGATE_VERSION": "1.2",
	} {
		t.Setenv(k, v)
	}
	yaml := []byte("activities: [{id: a, stock: 1}]" + oneRoute)
	if _, err := conf.Parse(yaml); err != nil {
		t.Fatalf("service links and other FLASHGATE_* names: %v", err)
	}
	t.Setenv("FLASHGATE_REDIS_TIMOUT", "50ms")
	_, err := conf.Parse(yaml)
	if err == nil || !strings.Contains(err.Error(), "FLASHGATE_REDIS_TIMOUT (environment): names no setting, so it would be ignored; did you mean FLASHGATE_REDIS_TIMEOUT?") {
		t.Fatalf("got %v", err)
	}
}
