package blacklist

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/gateway"
)

const at = "routes[0].filters[0].blacklist"

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

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "blacklist.txt")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestBuildErrors(t *testing.T) {
	bad := writeFile(t, "ok-user\nbad user\n10.0.0.0/99\n")
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"redis key without redis", Config{RedisKey: "blacklist", Refresh: time.Second, Check: []string{"ip"}},
			`redis_key: "blacklist" needs redis.addrs; set redis_key: "" to use the file alone`},
		{"missing file", Config{File: "/nonexistent/bl.txt", Refresh: time.Second, Check: []string{"ip"}},
			"file: open /nonexistent/bl.txt: no such file or directory"},
		{"bad lines", Config{File: bad, Refresh: time.Second, Check: []string{"ip"}},
			"file: " + bad + `:2: "bad user" is not a user id ([A-Za-z0-9_.@:-]{1,128}), an IP address or a CIDR` + "\n" +
				bad + `:3: "10.0.0.0/99" is not a valid CIDR`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.cfg.Build(gateway.NewEnv())
			if err == nil || err.Error() != tc.want {
				t.Fatalf("Build error:\n%v\nwant:\n%s", err, tc.want)
			}
		})
	}
}

func request(ip, user string) *gateway.Request {
	r := &gateway.Request{Ctx: new(fasthttp.RequestCtx), Now: time.Now(), IP: netip.MustParseAddr(ip)}
	if user != "" {
		r.SetUser([]byte(user))
	}
	return r
}

func fileFilter(t testing.TB, check ...string) *filter {
	t.Helper()
	p := writeFile(t.(*testing.T), "# known bad\nmallory\n203.0.113.7\n198.51.100.0/24 # a botnet\n2001:db8:bad::/48\n")
	f, err := (&Config{File: p, Check: check, Refresh: time.Second}).Build(gateway.NewEnv())
	if err != nil {
		t.Fatal(err)
	}
	return f.(*filter)
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
			v, err := f.Handle(request(tc.ip, tc.user))
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
	env := gateway.NewEnv()
	env.Config = &conf.Config{Dir: filepath.Dir(p)}
	f, err := (&Config{File: filepath.Base(p), Refresh: time.Second, Check: []string{"user"}}).Build(env)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := f.Handle(request("192.0.2.1", "mallory")); v.Action != gateway.Reject {
		t.Fatal("the relative file was not loaded")
	}
}
