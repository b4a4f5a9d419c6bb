package conf_test

import (
	"testing"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/filters/ratelimit"
)

// TestSectionsTyped: the load stage hands the plan typed entries: each
// filter's type, its on_error policy and its own decoded Config, and a
// json action's decoded endpoint config.
func TestSectionsTyped(t *testing.T) {
	cfg, err := conf.Parse([]byte(`
activities: [{id: a1, stock: 1}]
routes:
  - path: "/b/{activity}"
    filters:
      - rate_limit: {scope: ip, rate: 5, on_error: allow}
      - sale_window: {}
    action: {type: json, endpoint: activity_status}
`))
	if err != nil {
		t.Fatal(err)
	}
	fs := cfg.Routes[0].Filters
	if len(fs) != 2 {
		t.Fatalf("%d entries", len(fs))
	}
	rl, ok := fs[0].Settings.(*ratelimit.Config)
	if fs[0].Type != "rate_limit" || fs[0].OnError != conf.FailOpen || !ok || rl.Rate != 5 || rl.Scope != "ip" ||
		fs[0].Path != "routes[0].filters[0].rate_limit" {
		t.Errorf("rate_limit entry: %+v settings %+v", fs[0], fs[0].Settings)
	}
	if fs[1].Type != "sale_window" || fs[1].OnError != conf.FailClosed || fs[1].Settings == nil {
		t.Errorf("sale_window entry: %+v", fs[1])
	}
	if cfg.Routes[0].Action.Settings == nil {
		t.Error("endpoint config not decoded")
	}
}
