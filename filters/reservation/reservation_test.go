package reservation

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/gateway"
)

const at = "routes[0].filters[0].reservation"

func validate(raw map[string]any) string {
	c := newConfig()
	if err := conf.CheckSection(at, raw, c); err != nil {
		return err.Error()
	}
	return ""
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		raw  map[string]any
		want string
	}{
		{"defaults", map[string]any{}, ""},
		{"file only", map[string]any{"file": "r.txt", "redis_key_pattern": ""}, ""},
		{"nothing to read", map[string]any{"redis_key_pattern": ""}, at + ".file: set file, redis_key_pattern or both"},
		{"pattern without activity", map[string]any{"redis_key_pattern": "reservations"},
			at + `.redis_key_pattern: must contain {activity} (one set per activity), got "reservations"`},
		{"refresh", map[string]any{"refresh": "-1s"}, at + ".refresh: must be > 0, got -1s"},
		{"duplicate activity", map[string]any{"activities": []any{"a0", "a1", "a0"}}, at + `.activities[2]: "a0" is listed twice`},
		{"unknown key", map[string]any{"activity": "a0"}, at + ": unknown field(s): activity"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := validate(tc.raw); got != tc.want {
				t.Fatalf("errors:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

func activities(n int) []*gateway.Activity {
	out := make([]*gateway.Activity, n)
	for i := range out {
		out[i] = gateway.NewActivity(i, conf.Activity{ID: "a" + strconv.Itoa(i), Stock: 10, Shards: 1, PerUser: 1})
	}
	return out
}

func newEnv(acts []*gateway.Activity) *gateway.Env {
	env := gateway.NewEnv()
	env.Route = "POST /buy/{activity}"
	env.Activities = acts
	for _, a := range acts {
		env.AllActivities[a.ID] = a
	}
	return env
}

func writeFile(t testing.TB, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "reserved.txt")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestBuildErrors(t *testing.T) {
	bad := writeFile(t, "ok\nnot ok\n")
	tests := []struct {
		name string
		cfg  Config
		acts int
		want string
	}{
		{"no activity in path", Config{File: "x", Refresh: time.Second}, 0, "reservation needs {activity} in the route path"},
		{"pattern without redis", Config{RedisKeyPattern: "r:{activity}", Refresh: time.Second}, 1,
			`redis_key_pattern: "r:{activity}" needs redis.addrs; set redis_key_pattern: "" to use the file alone`},
		{"unknown activity", Config{File: bad, Refresh: time.Second, Activities: []string{"a0", "zz", "yy"}}, 1,
			"activities[1]: \"zz\" is not an activity of this route\nactivities[2]: \"yy\" is not an activity of this route"},
		{"bad file", Config{File: bad, Refresh: time.Second}, 1,
			"file: " + bad + `:2: "not ok" is not a user id ([A-Za-z0-9_.@:-]{1,128})`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.cfg.Build(newEnv(activities(tc.acts)))
			if err == nil || err.Error() != tc.want {
				t.Fatalf("Build error:\n%v\nwant:\n%s", err, tc.want)
			}
		})
	}
}

func request(user string, act *gateway.Activity) *gateway.Request {
	r := &gateway.Request{Ctx: new(fasthttp.RequestCtx), Now: time.Now(), IP: netip.MustParseAddr("192.0.2.1"), Activity: act}
	if user != "" {
		r.SetUser([]byte(user))
	}
	return r
}

// outcome is the reason of a rejection, "" for a pass, "error" for an
// error.
func outcome(t testing.TB, f gateway.Filter, r *gateway.Request) string {
	t.Helper()
	v, err := f.Handle(r)
	switch {
	case errors.Is(err, gateway.ErrUnavailable):
		return "error"
	case err != nil:
		t.Fatalf("Handle: %v", err)
	case v.Action == gateway.Reject:
		return v.Page.Reason + "/" + strconv.Itoa(v.Page.Status)
	}
	return ""
}

func TestHandle(t *testing.T) {
	acts := activities(3)
	path := writeFile(t, "# early birds\nalice\nbob  # vip\n")
	f, err := (&Config{File: path, Refresh: time.Second, Activities: []string{"a0", "a2"}}).Build(newEnv(acts))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		user string
		act  *gateway.Activity
		want string
	}{
		{"alice", acts[0], ""},
		{"bob", acts[2], ""},
		{"", acts[0], "reservation_requires_login/401"},
		{"mallory", acts[0], "not_reserved/403"},
		{"alic", acts[0], "not_reserved/403"},
		{"mallory", acts[1], ""}, // a1 needs no reservation
		{"", acts[1], ""},
		{"mallory", nil, ""},
	}
	for _, tc := range tests {
		if got := outcome(t, f, request(tc.user, tc.act)); got != tc.want {
			t.Errorf("user %q activity %v: got %q, want %q", tc.user, tc.act, got, tc.want)
		}
	}
}

// A relative file is read from the config file's directory.
func TestRelativeFile(t *testing.T) {
	p := writeFile(t, "alice\n")
	acts := activities(1)
	env := newEnv(acts)
	env.Config = &conf.Config{Dir: filepath.Dir(p)}
	f, err := (&Config{File: filepath.Base(p), Refresh: time.Second}).Build(env)
	if err != nil {
		t.Fatal(err)
	}
	if got := outcome(t, f, request("alice", acts[0])); got != "" {
		t.Fatalf("alice: %q", got)
	}
}
