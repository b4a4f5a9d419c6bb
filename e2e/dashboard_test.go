package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/flashgate/flashgate/internal/redistest"
)

// dashboardQueries returns every PromQL query of the Grafana dashboard:
// the panels' targets and the template variables.
func dashboardQueries(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../deploy/grafana/flashgate.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Query struct {
					Query string `json:"query"`
				} `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("flashgate.json: %v", err)
	}
	var qs []string
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			qs = append(qs, tg.Expr)
		}
	}
	for _, v := range d.Templating.List {
		qs = append(qs, v.Query.Query)
	}
	return qs
}

// TestGrafanaDashboardMetrics: every metric name the dashboard queries is
// one a real gateway (built binary, Redis store, an upstream, a sale in
// progress) exports on /metrics.
func TestGrafanaDashboardMetrics(t *testing.T) {
	rs := redistest.Start(t)
	g := startOps(t, rs, backend(t), 3, true)
	if code, body, _ := call(t, "POST", "http://"+g.addr+"/buy/sale", "X-User-Id", "u1"); code != 201 {
		t.Fatalf("purchase: %d %s", code, body)
	}
	// The queue's series exist only where a route is async: a second
	// gateway on the same Redis sells another activity that way.
	kb := startKeyBackend(t, "127.0.0.1:0")
	ag := opsGateway{addr: freeAddr(t), admin: freeAddr(t)}
	acfg := strings.Replace(asyncSaleConfig(ag.addr, kb.addr, []string{rs.Addr()}, 3, "{rate: 50}"), "id: sale,", "id: queued,", 1) +
		fmt.Sprintf("admin: {listen: %q, token: %q}\n", ag.admin, opsToken)
	ag.cfg = writeFile(t, "async.yaml", acfg)
	warm(t, ag.cfg)
	gateway(t, ag.cfg, ag.addr)
	exported := map[string]bool{}
	for _, gw := range []opsGateway{g, ag} {
		for series := range scrape(t, gw) {
			name, _, _ := strings.Cut(series, "{")
			exported[name] = true
		}
	}
	names := map[string]bool{}
	metric := regexp.MustCompile(`\bflashgate_[a-z0-9_]+`)
	for _, q := range dashboardQueries(t) {
		if strings.TrimSpace(q) == "" {
			t.Errorf("a dashboard query is empty")
		}
		for _, n := range metric.FindAllString(q, -1) {
			names[n] = true
		}
	}
	if len(names) < 15 {
		t.Fatalf("the dashboard queries only %d flashgate metrics: %v", len(names), names)
	}
	var missing []string
	for n := range names {
		if !exported[n] {
			missing = append(missing, n)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("the dashboard queries metrics the gateway does not export: %v", missing)
	}
}
