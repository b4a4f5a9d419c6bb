package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheck runs `flashgate check` like `nginx -t`: exit 0 and "config ok",
// or exit 2 with every error naming its YAML path.
func TestCheck(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		code int
		want []string
	}{
		{"demo config", "", 0, []string{"config ok"}},
		{"example config", "example", 0, []string{"config ok"}},
		{"unknown filter", `routes: [{path: /x, filters: [{teleport: {}}], action: {type: json, endpoint: activity_status}}]`, 2,
			[]string{`routes[0].filters[0]: unknown filter type "teleport"`}},
		{"wrong type", `server: {max_conns: many}`, 2,
			[]string{`server.max_conns: wrong type: expected a whole number, got a string`}},
		{"negative rate", `
activities: [{id: a1, stock: 1}]
routes: [{path: "/b/{activity}", filters: [{rate_limit: {scope: ip, rate: -5}}], action: {type: json, endpoint: activity_status}}]`, 2,
			[]string{`routes[0].filters[0].rate_limit.rate: must be > 0`}},
		{"missing upstream", `routes: [{path: /b, method: POST, action: {type: proxy}}]`, 2,
			[]string{`routes[0].action.upstream: required for a proxy action`}},
		{"unreadable template", `static: {templates: /nonexistent/templates}`, 2,
			[]string{`static.templates`}},
		{"several at once", `
server: {read_timeout: soon}
activities: [{id: a1, stock: 1}]
upstreams: [{name: o, addrs: []}]
routes:
  - {path: x, action: {type: proxy, upstream: nope}}
  - {path: "/b/{activity}", filters: [{rate_limit: {scope: ip, rate: -5}}], action: {type: json, endpoint: activity_status}}
  - {path: /t, filters: [{teleport: {}}], action: {type: json, endpoint: activity_status}}`, 2,
			[]string{`server.read_timeout: time: invalid duration "soon"`, `upstreams[0].addrs: at least one host:port is required`,
				`routes[0].path: required, must start with /`, `routes[0].action.upstream: unknown upstream "nope"`,
				`routes[1].filters[0].rate_limit.rate: must be > 0, got -5`, `routes[2].filters[0]: unknown filter type "teleport"`}},
		{"missing blacklist file", `
activities: [{id: a1, stock: 1}]
routes: [{path: "/b/{activity}", filters: [{blacklist: {file: nowhere.txt, redis_key: ""}}], action: {type: json, endpoint: activity_status}}]`, 2,
			[]string{`routes[0].filters[0].blacklist: file: open `, `nowhere.txt: no such file or directory`}},
		{"stock before a non-order action", `
activities: [{id: a1, stock: 1}]
routes: [{path: "/b/{activity}", filters: [{identity: {header: X-User-Id}}, {stock: {}}], action: {type: json, endpoint: activity_status}}]`, 2,
			[]string{`routes[0].filters[1].stock: stock takes a unit, so the action must be proxy`}},
		{"bad yaml", "routes: [", 2, []string{"yaml:"}},
		// What serve would only show at run time (issue 8, item 5).
		{"route page not in the catalogue", `
static: {catalogue: ` + catalogue + `}
routes: [{path: /sale, action: {type: static, page: phone-y}}]`, 2,
			[]string{`flashgate.yaml: routes[0].action.page: page "phone-y" is not in the catalogue (static.catalogue)`}},
		{"activity product not in the catalogue", `
static: {catalogue: ` + catalogue + `}
activities: [{id: a1, product: phone-y, stock: 1}]
routes: [{path: "/p/{product}", action: {type: static, page: "{product}"}}]`, 2,
			[]string{`flashgate.yaml: activities[0].product: "phone-y" is not in the catalogue (static.catalogue): its product page would be a 404`}},
		{"no routes", `upstreams: [{name: o, addrs: ["127.0.0.1:1"]}]`, 2,
			[]string{`flashgate.yaml: routes: at least one route is required`}},
		{"shutdown_timeout shorter than an upstream timeout", `
server: {shutdown_timeout: 1s}
upstreams: [{name: o, addrs: ["127.0.0.1:1"], timeout: 3s}]
routes: [{path: /b, method: POST, action: {type: proxy, upstream: o}}]`, 2,
			[]string{`flashgate.yaml: server.shutdown_timeout: 1s is shorter than upstreams[0].timeout 3s: orders in flight at shutdown would be cut off`}},
		{"environment override names the variable", "", 2,
			[]string{`demo.yaml: FLASHGATE_SERVER_MAX_INFLIGHT (environment, overrides server.max_inflight): wrong type`}},
	}
	env := map[string][]string{"environment override names the variable": {"FLASHGATE_SERVER_MAX_INFLIGHT=lots"}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := "../conf/demo.yaml"
			switch tc.yaml {
			case "":
			case "example":
				path = "../conf/flashgate.example.yaml"
			default:
				path = writeFile(t, "flashgate.yaml", tc.yaml)
			}
			cmd := exec.Command(bin.gateway, "check", "--config", path)
			cmd.Env = append(os.Environ(), env[tc.name]...)
			out, err := cmd.CombinedOutput()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.code {
				t.Fatalf("exit %d, want %d:\n%s", code, tc.code, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if tc.code == 2 && !strings.HasPrefix(string(out), filepath.Base(path)+": ") {
				t.Errorf("errors do not name the file:\n%s", out)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	out, err := exec.Command(bin.gateway, "version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "flashgate ") {
		t.Fatalf("version: %v %s", err, out)
	}
}
