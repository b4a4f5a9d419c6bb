package gateway

import (
	"strings"
	"testing"

	"github.com/flashgate/flashgate/conf"
)

// TestBuildNamesEveryFailingFilter: a chain with several filters that
// cannot be built (here three that need Redis, on the memory store) is
// refused with each one named, in one report, not one per check run.
func TestBuildNamesEveryFailingFilter(t *testing.T) {
	cfg, err := conf.Parse([]byte(`
activities: [{id: big, product: phone-x, stock: 5}]
routes:
  - method: POST
    path: /buy/{activity}
    filters:
      - identity: {header: X-User-Id, require: true}
      - blacklist: {}
      - order_token: {keys: [{id: k1, secret: "0123456789abcdef0123456789abcdef"}], single_use: true}
      - rate_limit: {scope: user, rate: 1, distributed: true}
      - stock: {}
    action: {type: json, endpoint: stock_decision}
`))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Static.Catalogue = "testdata/catalogue.yaml"
	_, err = Build(cfg, Deps{})
	if err == nil {
		t.Fatal("built a chain of filters that need Redis without it")
	}
	for _, want := range []string{
		"routes[0].filters[1].blacklist: redis_key",
		"routes[0].filters[2].order_token: single_use needs redis.addrs",
		"routes[0].filters[3].rate_limit: distributed: true needs redis.addrs",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("build error %q does not name %q", err, want)
		}
	}
}
