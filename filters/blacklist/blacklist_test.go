package blacklist

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/gateway"
	"github.com/flashgate/flashgate/internal/filtertest"
)

const at = "blacklist"

func validate(raw map[string]any) string {
	if err := filtertest.Check("blacklist", raw); err != nil {
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
		{"ip only", map[string]any{"check": []any{"ip"}}, ""},
		{"nothing to read", map[string]any{"redis_key": ""}, at + ".file: set file, redis_key or both"},
		{"refresh", map[string]any{"refresh": "0s"}, at + ".refresh: must be > 0, got 0s"},
		{"check empty", map[string]any{"check": []any{}}, at + ".check: must name user, ip or both"},
		{"check bad", map[string]any{"check": []any{"ip", "device", "ip"}},
			at + `.check[1]: must be user or ip, got "device"` + "\n" + at + `.check[2]: "ip" is listed twice`},
		{"unknown", map[string]any{"files": "x"}, at + ": unknown field(s): files"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := validate(tc.raw); got != tc.want {
				t.Fatalf("errors:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

func writeFile(t testing.TB, body string) string {
	return filtertest.WriteFile(t, "blacklist.txt", body)
}

func TestBuildErrors(t *testing.T) {
	bad := writeFile(t, "ok-user\nbad user\n10.0.0.0/99\n")
	tests := []struct {
		name string
		cfg  map[string]any
		want string
	}{
		{"redis key without redis", map[string]any{"check": []any{"ip"}},
			`redis_key: "blacklist" needs redis.addrs; set redis_key: "" to use the file alone`},
		{"missing file", map[string]any{"file": "/nonexistent/bl.txt", "redis_key": "", "check": []any{"ip"}},
			"file: open /nonexistent/bl.txt: no such file or directory"},
		{"bad lines", map[string]any{"file": bad, "redis_key": "", "check": []any{"ip"}},
			"file: " + bad + `:2: "bad user" is not a user id ([A-Za-z0-9_.@:-]{1,128}), an IP address or a CIDR` + "\n" +
				bad + `:3: "10.0.0.0/99" is not a valid CIDR`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := filtertest.Build(t, filtertest.Env(), "blacklist", tc.cfg)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("Build error:\n%v\nwant:\n%s", err, tc.want)
			}
		})
	}
}

func fileFilter(t testing.TB, check ...string) *filter {
	t.Helper()
	p := writeFile(t, "# known bad\nmallory\n203.0.113.7\n198.51.100.0/24 # a botnet\n2001:db8:bad::/48\n")
	return filtertest.Filter[*filter](t, filtertest.Env(), "blacklist", map[string]any{"file": p, "redis_key": "", "check": check})
}

func TestHandle(t *testing.T) {
	tests := []struct {
		check    []string
		ip, user string
		want     string // reason, "" for a pass
	}{
		{[]string{"user", "ip"}, "192.0.2.1", "", ""},
		{[]string{"user", "ip"}, "192.0.2.1", "alice", ""},
		{[]string{"user", "ip"}, "192.0.2.1", "mallory", "blacklisted"},
		{[]string{"user", "ip"}, "203.0.113.7", "alice", "blacklisted"},
		{[]string{"user", "ip"}, "203.0.113.8", "", ""},
		{[]string{"user", "ip"}, "198.51.100.77", "", "blacklisted"},
		{[]string{"user", "ip"}, "::ffff:198.51.100.1", "", "blacklisted"},
		{[]string{"user", "ip"}, "2001:db8:bad:1::1", "", "blacklisted"},
		{[]string{"user", "ip"}, "2001:db8:bae::1", "", ""},
		{[]string{"ip"}, "192.0.2.1", "mallory", ""},
		{[]string{"ip"}, "203.0.113.7", "", "blacklisted"},
		{[]string{"user"}, "203.0.113.7", "alice", ""},
		{[]string{"user"}, "203.0.113.7", "mallory", "blacklisted"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.check, "+")+"/"+tc.ip+"/"+tc.user, func(t *testing.T) {
			f := fileFilter(t, tc.check...)
			v, err := f.Handle(filtertest.From(filtertest.Request(nil, tc.user, time.Now()), tc.ip))
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if v.Action == gateway.Reject {
				got = v.Page.Reason
				if v.Page.Status != 403 {
					t.Fatalf("status %d, want 403", v.Page.Status)
				}
			}
			if got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// A relative file is read from the config file's directory.
func TestRelativeFile(t *testing.T) {
	p := writeFile(t, "mallory\n")
	env := filtertest.Env()
	env.Config = &conf.Config{Dir: filepath.Dir(p)}
	f := filtertest.Filter[*filter](t, env, "blacklist", map[string]any{"file": filepath.Base(p), "redis_key": "", "check": []any{"user"}})
	if v, _ := f.Handle(filtertest.From(filtertest.Request(nil, "mallory", time.Now()), "192.0.2.1")); v.Action != gateway.Reject {
		t.Fatal("the relative file was not loaded")
	}
}
