package reservation

import (
	"errors"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/gateway"
	"github.com/flashgate/flashgate/internal/filtertest"
)

const at = "reservation"

func validate(raw map[string]any) string {
	if err := filtertest.Check("reservation", raw); err != nil {
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

func newEnv(acts []*gateway.Activity) *gateway.Env {
	env := filtertest.Env(acts...)
	env.Route = "POST /buy/{activity}"
	return env
}

func writeFile(t testing.TB, body string) string {
	return filtertest.WriteFile(t, "reserved.txt", body)
}

// fileOnly are the settings of a list read from file alone.
func fileOnly(file string, more ...any) map[string]any {
	m := map[string]any{"file": file, "redis_key_pattern": ""}
	for i := 0; i+1 < len(more); i += 2 {
		m[more[i].(string)] = more[i+1]
	}
	return m
}

func TestBuildErrors(t *testing.T) {
	bad := writeFile(t, "ok\nnot ok\n")
	tests := []struct {
		name string
		cfg  map[string]any
		acts int
		want string
	}{
		{"no activity in path", fileOnly("x"), 0, "reservation needs {activity} in the route path"},
		{"pattern without redis", map[string]any{"redis_key_pattern": "r:{activity}"}, 1,
			`redis_key_pattern: "r:{activity}" needs redis.addrs; set redis_key_pattern: "" to use the file alone`},
		{"unknown activity", fileOnly(bad, "activities", []any{"a0", "zz", "yy"}), 1,
			"activities[1]: \"zz\" is not an activity of this route\nactivities[2]: \"yy\" is not an activity of this route"},
		{"bad file", fileOnly(bad), 1,
			"file: " + bad + `:2: "not ok" is not a user id ([A-Za-z0-9_.@:-]{1,128})`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := filtertest.Build(t, newEnv(filtertest.Numbered(tc.acts)), "reservation", tc.cfg)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("Build error:\n%v\nwant:\n%s", err, tc.want)
			}
		})
	}
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
	acts := filtertest.Numbered(3)
	path := writeFile(t, "# early birds\nalice\nbob  # vip\n")
	f := filtertest.Filter[*filter](t, newEnv(acts), "reservation", fileOnly(path, "activities", []any{"a0", "a2"}))
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
		if got := outcome(t, f, filtertest.From(filtertest.Request(tc.act, tc.user, time.Now()), "192.0.2.1")); got != tc.want {
			t.Errorf("user %q activity %v: got %q, want %q", tc.user, tc.act, got, tc.want)
		}
	}
}

// A relative file is read from the config file's directory.
func TestRelativeFile(t *testing.T) {
	p := writeFile(t, "alice\n")
	acts := filtertest.Numbered(1)
	env := newEnv(acts)
	env.Config = &conf.Config{Dir: filepath.Dir(p)}
	f := filtertest.Filter[*filter](t, env, "reservation", fileOnly(filepath.Base(p)))
	if got := outcome(t, f, filtertest.From(filtertest.Request(acts[0], "alice", time.Now()), "192.0.2.1")); got != "" {
		t.Fatalf("alice: %q", got)
	}
}
