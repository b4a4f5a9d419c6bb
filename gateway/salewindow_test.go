package gateway

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/internal/demobackend"
)

// TestSaleWindowNeedsItsFilter: an activity with a sale window sold by a
// purchase route without a sale_window filter would sell outside the
// window (the status JSON would say not_started while purchases went
// through): the build refuses it, naming the route's stock entry.
func TestSaleWindowNeedsItsFilter(t *testing.T) {
	cfg, err := conf.Parse([]byte(`
activities: [{id: later, product: phone-x, stock: 5, start: "2099-01-01T00:00:00Z"}]
routes:
  - {method: POST, path: "/buy/{activity}", filters: [{identity: {header: X-User-Id, require: true}}, {stock: {}}], action: {type: json, endpoint: stock_decision}}
`))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Static.Catalogue = "testdata/catalogue.yaml"
	_, err = Build(cfg, Deps{})
	if err == nil || !strings.Contains(err.Error(), `routes[0].filters[1].stock: activity "later" has a sale window, but this purchase route has no sale_window filter`) {
		t.Fatalf("build: %v, want the missing sale_window named", err)
	}
}

// TestAdminWindowNeedsSaleWindow: a window override of an activity whose
// purchase route has no sale_window filter would gate nothing: 409
// no_sale_window, nothing changed.
func TestAdminWindowNeedsSaleWindow(t *testing.T) {
	_, addr, _ := startBackend(t, demobackend.Options{})
	ts := newTestServer(t, `
upstreams: [{name: orders, addrs: ["`+addr+`"], timeout: 2s}]
activities: [{id: now, product: phone-x, stock: 5}]
routes:
  - {method: POST, path: "/buy/{activity}", filters: [{identity: {header: X-User-Id, require: true}}, {stock: {}}], action: {type: proxy, upstream: orders, rewrite: /orders}}
`, Deps{})
	ac := newAdminClient(t, ts, ts.deps, nil)
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod("PUT")
	req.SetRequestURI("http://admin.test/admin/activities/now/window")
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.SetBodyString(`{"start":"2099-01-01T00:00:00Z"}`)
	if err := ac.c.DoTimeout(req, resp, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if code, body := resp.StatusCode(), string(resp.Body()); code != 409 || !strings.Contains(body, `"error":"no_sale_window"`) {
		t.Fatalf("window override without sale_window: %d %s, want 409 no_sale_window", code, body)
	}
	if r := ts.do(t, "POST", "/buy/now", "X-User-Id", "u1"); r.StatusCode() != 201 {
		t.Fatalf("purchase after the refused override: %d, want 201 (nothing changed)", r.StatusCode())
	}
}

// TestReloadKeepsSaleWindowUnderOverride: a reload that would drop the
// sale_window filter of an activity an operator's window override holds
// closed is refused (the running config keeps gating it).
func TestReloadKeepsSaleWindowUnderOverride(t *testing.T) {
	withFilter := `
activities: [{id: now, product: phone-x, stock: 5}]
routes:
  - {method: POST, path: "/buy/{activity}", filters: [{identity: {header: X-User-Id, require: true}}, {sale_window: {}}, {stock: {}}], action: {type: json, endpoint: stock_decision}}
`
	ts := newTestServer(t, withFilter, Deps{})
	later := conf.Window{Start: time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)}
	if err := ts.deps.Overrides.SetWindow(context.Background(), "now", &later); err != nil {
		t.Fatal(err)
	}
	cfg, err := conf.Parse([]byte(strings.Replace(withFilter, "{sale_window: {}}, ", "", 1)))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Static.Catalogue = "testdata/catalogue.yaml"
	if _, err := ts.Reload(cfg); err == nil || !strings.Contains(err.Error(), "window override is in force") {
		t.Fatalf("reload without sale_window under a window override: %v, want refused", err)
	}
	if r := ts.do(t, "POST", "/buy/now", "X-User-Id", "u1"); r.StatusCode() == 200 || r.StatusCode() == 201 {
		t.Fatalf("purchase under the override after the refused reload: %d", r.StatusCode())
	}
}
