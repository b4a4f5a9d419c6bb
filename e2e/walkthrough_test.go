package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// demoConfig is conf/demo.yaml moved to free ports and pointed at be.
func demoConfig(t *testing.T, be string) (cfg, addr, admin string) {
	t.Helper()
	b, err := os.ReadFile("../conf/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	addr, admin = freeAddr(t), freeAddr(t)
	dir, _ := filepath.Abs("../conf")
	s := strings.NewReplacer(
		"127.0.0.1:8080", addr, "127.0.0.1:8081", admin, "127.0.0.1:9090", be,
		"demo-catalogue.yaml", filepath.Join(dir, "demo-catalogue.yaml"),
		"demo-blacklist.txt", filepath.Join(dir, "demo-blacklist.txt"),
	).Replace(string(b))
	return writeFile(t, "demo.yaml", s), addr, admin
}

func jsonField(t *testing.T, body, key string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("not JSON: %q", body)
	}
	v, _ := m[key].(string)
	return v
}

// TestWalkthrough is README's curl walk-through on the demo config.
func TestWalkthrough(t *testing.T) {
	be := backend(t)
	cfg, addr, admin := demoConfig(t, be)
	gateway(t, cfg, addr)
	base := "http://" + addr

	// 1–2. Product page, 304 with its ETag, gzip.
	code, _, h := call(t, "GET", base+"/p/phone-x")
	etag := string(h.Peek("ETag"))
	if code != 200 || etag == "" || string(h.Peek("Cache-Control")) != "public, max-age=60" {
		t.Fatalf("product page: %d etag=%q", code, etag)
	}
	if code, _, _ := call(t, "GET", base+"/p/phone-x", "If-None-Match", etag); code != 304 {
		t.Errorf("If-None-Match: %d", code)
	}
	if _, _, h := call(t, "GET", base+"/p/phone-x", "Accept-Encoding", "gzip"); string(h.Peek("Content-Encoding")) != "gzip" {
		t.Errorf("no gzip")
	}
	// 3. Status.
	if _, body, _ := call(t, "GET", base+"/api/activities/phone-sale/status"); !strings.Contains(body, `"stock_left":100`) {
		t.Errorf("status: %s", body)
	}
	// 4–5. Token, path, and a bot-fast purchase.
	_, body, _ := call(t, "GET", base+"/api/activities/phone-sale/token", "X-User-Id", "alice")
	token := jsonField(t, body, "token")
	_, body, _ = call(t, "GET", base+"/api/activities/phone-sale/path", "X-User-Id", "alice")
	buy := jsonField(t, body, "path")
	if token == "" || !strings.HasPrefix(buy, "/api/buy/phone-sale/") {
		t.Fatalf("token %q path %q", token, buy)
	}
	code, body, h = call(t, "POST", base+buy, "X-User-Id", "alice", "X-Order-Token", token, "Accept", "application/json")
	if code != 429 || jsonField(t, body, "error") != "token_too_young" || len(h.Peek("Retry-After")) == 0 {
		t.Fatalf("too-young token: %d %s", code, body)
	}
	// 6. A second later the purchase goes through, once.
	time.Sleep(1100 * time.Millisecond)
	code, body, h = call(t, "POST", base+buy, "X-User-Id", "alice", "X-Order-Token", token)
	if code != 201 || !strings.Contains(body, `"idempotency_key":"phone-sale:alice:`) || len(h.Peek("X-Request-Id")) == 0 {
		t.Fatalf("purchase: %d %s", code, body)
	}
	// 7. One per customer.
	code, body, _ = call(t, "POST", base+buy, "X-User-Id", "alice", "X-Order-Token", token, "Accept", "application/json")
	if code != 409 || jsonField(t, body, "error") != "already_purchased" {
		t.Errorf("second purchase: %d %s", code, body)
	}
	// 8. Someone else's path is a 404.
	if code, _, _ := call(t, "POST", base+buy, "X-User-Id", "bob", "X-Order-Token", token); code != 404 {
		t.Errorf("bob on alice's path: %d", code)
	}
	// 9. Backend, stock and metrics agree.
	if o := orders(t, be); o != `{"orders":1,"duplicates":0}` {
		t.Errorf("backend: %s", o)
	}
	waitFor(t, func() bool {
		_, body, _ := call(t, "GET", base+"/api/activities/phone-sale/status")
		return strings.Contains(body, `"stock_left":99`)
	})
	_, metrics, _ := call(t, "GET", "http://"+admin+"/metrics")
	if !strings.Contains(metrics, `flashgate_filter_rejections_total{filter="order_token",reason="token_too_young",route="buy"} 1`) {
		t.Errorf("metrics lack the too-young rejection")
	}
	// 10. Admin.
	if code, _, _ := call(t, "GET", "http://"+admin+"/admin/activities/phone-sale/stock"); code != 401 {
		t.Errorf("admin without token: %d", code)
	}
	_, body, _ = call(t, "GET", "http://"+admin+"/admin/activities/phone-sale/stock", "Authorization", "Bearer demo-admin-token-change-me")
	// README step 10, number for number (README "Stock numbers").
	if strings.TrimSpace(body) != `{"activity":"phone-sale","configured":100,"loaded":100,"topped_up":0,"total":100,"left":99,"sold":1,"sold_out":false,"held":0,"paid":0,"released_unpaid":0}` {
		t.Errorf("admin stock: %s", body)
	}
	// A blacklisted user is turned away before anything else.
	if code, _, _ := call(t, "POST", base+"/api/buy/phone-sale/x", "X-User-Id", "mallory"); code != 403 {
		t.Errorf("blacklisted: %d", code)
	}
	// The watch sale has not started.
	code, body, _ = call(t, "GET", base+"/api/activities/watch-sale/path", "X-User-Id", "alice", "Accept", "application/json")
	if code != 403 || jsonField(t, body, "error") != "not_started" {
		t.Errorf("watch sale path: %d %s", code, body)
	}
	// 11. The tee is sold in async mode: 202 with a ticket, polled by
	// its own user until the queue has delivered it.
	_, body, _ = call(t, "GET", base+"/api/activities/tee-sale/token", "X-User-Id", "alice")
	token = jsonField(t, body, "token")
	_, body, _ = call(t, "GET", base+"/api/activities/tee-sale/path", "X-User-Id", "alice")
	buy = jsonField(t, body, "path")
	time.Sleep(1100 * time.Millisecond)
	code, body, h = call(t, "POST", base+buy, "X-User-Id", "alice", "X-Order-Token", token)
	ticket := jsonField(t, body, "ticket")
	if code != 202 || !strings.HasPrefix(ticket, "tee-sale:alice:") || jsonField(t, body, "poll") != "/api/orders/"+ticket {
		t.Fatalf("async purchase: %d %s", code, body)
	}
	if len(h.Peek("X-Request-Id")) == 0 {
		t.Errorf("the 202 carries no X-Request-Id")
	}
	if code, _, _ := call(t, "GET", base+"/api/orders/"+ticket, "X-User-Id", "bob"); code != 404 {
		t.Errorf("bob polls alice's ticket: %d", code)
	}
	waitFor(t, func() bool {
		_, body, _ := call(t, "GET", base+"/api/orders/"+ticket, "X-User-Id", "alice")
		return jsonField(t, body, "status") == "delivered"
	})
	if o := orders(t, be); o != `{"orders":2,"duplicates":0}` {
		t.Errorf("backend after the async purchase: %s", o)
	}
}

// TestDashboard: the admin port serves the live dashboard page; its data
// comes from the bearer-protected activities list and metrics
// (TestDashboardInBrowser drives it in Chromium).
func TestDashboard(t *testing.T) {
	be := backend(t)
	cfg, addr, admin := demoConfig(t, be)
	gateway(t, cfg, addr)
	code, body, h := call(t, "GET", "http://"+admin+"/dashboard")
	if code != 200 || !strings.Contains(string(h.ContentType()), "text/html") || !strings.Contains(body, "/admin/activities") || !strings.Contains(body, "/metrics") {
		t.Fatalf("dashboard: %d %q", code, body[:min(len(body), 200)])
	}
	for _, p := range []string{"/admin/activities", "/admin/status"} {
		if code, _, _ := call(t, "GET", "http://"+admin+p); code != 401 {
			t.Errorf("%s without token: %d", p, code)
		}
	}
}
