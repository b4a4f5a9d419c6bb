package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flashgate/flashgate/internal/redistest"
)

// TestServeCheckWarmAgree: serve, check and warm read a config through
// the same stages (load, validate, plan), so a config serve refuses is
// refused by check and by warm, with exit 2 and the very same messages,
// whichever stage finds the problem. The configs use a real Redis store,
// as warm needs one, so the plan stage runs in all three.
func TestServeCheckWarmAgree(t *testing.T) {
	rs := redistest.Start(t)
	catalogue, err := filepath.Abs("../../conf/demo-catalogue.yaml")
	if err != nil {
		t.Fatal(err)
	}
	base := fmt.Sprintf(`server: {listen: "127.0.0.1:0"}
redis: {addrs: [%q]}
stock: {store: redis}
static: {catalogue: %q}
activities: [{id: a1, product: phone-x, stock: 3}]
upstreams: [{name: orders, addrs: ["127.0.0.1:1"]}]
`, rs.Addr(), catalogue)
	tests := []struct {
		name   string
		routes string
		want   []string // lines the messages hold, each after the file's name
	}{
		{"unknown filter type (load)", `{path: "/b/{activity}", method: POST, filters: [{teleport: {}}], action: {type: proxy, upstream: orders}}`,
			[]string{`routes[0].filters[0]: unknown filter type "teleport"`}},
		{"bad filter setting (load)", `{path: "/b/{activity}", method: POST, filters: [{rate_limit: {scope: ip, rate: -5}}], action: {type: proxy, upstream: orders}}`,
			[]string{`routes[0].filters[0].rate_limit.rate: must be > 0, got -5`}},
		{"bad on_error (load)", `{path: "/b/{activity}", method: POST, filters: [{identity: {header: X-User-Id}}, {stock: {on_error: allow}}], action: {type: proxy, upstream: orders}}`,
			[]string{`routes[0].filters[1].stock.on_error: stock always fails closed; allow is not accepted`}},
		{"unknown upstream (validate)", `{path: /b, method: POST, action: {type: proxy, upstream: nope}}`,
			[]string{`routes[0].action.upstream: unknown upstream "nope"`}},
		{"page not in the catalogue (plan)", `{path: /sale, action: {type: static, page: phone-y}}`,
			[]string{`routes[0].action.page: page "phone-y" is not in the catalogue (static.catalogue)`}},
		{"stock before a non-order action (plan)", `{path: "/b/{activity}", filters: [{identity: {header: X-User-Id}}, {stock: {}}], action: {type: json, endpoint: activity_status}}`,
			[]string{`routes[0].filters[1].stock: stock takes a unit, so the action must be proxy`}},
		{"async on Redis with a filter after stock (plan)", `{path: "/b/{activity}", method: POST, filters: [{identity: {header: X-User-Id}}, {stock: {}}, {rate_limit: {scope: ip, rate: 5}}], action: {type: proxy, upstream: orders, mode: async, queue: {rate: 5}}}`,
			[]string{"routes[0].filters[2].rate_limit: async mode on the Redis store queues the order in the stock filter's script, so stock must be the chain's last filter"}},
		{"async max_wait under backoff_max (validate)", `{path: "/b/{activity}", method: POST, filters: [{identity: {header: X-User-Id}}, {stock: {}}], action: {type: proxy, upstream: orders, mode: async, queue: {rate: 5, backoff_max: 30s, max_wait: 20s}}}`,
			[]string{"routes[0].action.queue.max_wait: must be >= backoff_max (30s): one retry's wait would outlast it, got 20s"}},
		{"two async routes for one activity on Redis (plan)", `{name: q1, path: "/b/{activity}", method: POST, filters: [{identity: {header: X-User-Id}}, {stock: {}}], action: {type: proxy, upstream: orders, mode: async, queue: {rate: 5}}}
  - {name: q2, path: "/c/{activity}", method: POST, filters: [{identity: {header: X-User-Id}}, {stock: {}}], action: {type: proxy, upstream: orders, mode: async, queue: {rate: 5}}}`,
			[]string{`routes[1].action.mode: activity a1 is already sold async by route "q1": one async route per activity on the Redis store`}},
		{"missing blacklist file (plan)", `{path: "/b/{activity}", filters: [{blacklist: {file: nowhere.txt, redis_key: ""}}], action: {type: json, endpoint: activity_status}}`,
			[]string{`routes[0].filters[0].blacklist: file: open `}},
		{"several stages at once", `{path: x, action: {type: static, page: phone-y}}
  - {path: /t, filters: [{teleport: {}}], action: {type: json, endpoint: activity_status}}`,
			[]string{`routes[0].path: required, must start with /`, `routes[1].filters[0]: unknown filter type "teleport"`,
				`routes[0].action.page: page "phone-y" is not in the catalogue`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "flashgate.yaml")
			if err := os.WriteFile(path, []byte(base+"routes:\n  - "+tc.routes+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			var first string
			for _, cmd := range []string{"serve", "check", "warm"} {
				var out, errOut bytes.Buffer
				if code := run([]string{cmd, "--config", path}, &out, &errOut); code != exitConfig {
					t.Fatalf("%s: exit %d, want %d; stdout %q stderr %q", cmd, code, exitConfig, out.String(), errOut.String())
				}
				got := errOut.String()
				for _, l := range strings.Split(strings.TrimSpace(got), "\n") {
					if !strings.HasPrefix(l, "flashgate.yaml: ") {
						t.Errorf("%s: line %q does not name the file", cmd, l)
					}
				}
				for _, w := range tc.want {
					if !strings.Contains(got, "flashgate.yaml: "+w) {
						t.Errorf("%s: messages lack %q:\n%s", cmd, w, got)
					}
				}
				if first == "" {
					first = got
				} else if got != first {
					t.Errorf("%s says\n%s\nserve said\n%s", cmd, got, first)
				}
			}
		})
	}
}
