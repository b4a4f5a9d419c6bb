package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/flashgate/flashgate/internal/redistest"
)

// payConfig is saleConfig's gateway with an admin port, on Redis, whose
// activity holds every unit for pay_within until the backend pays it.
func payConfig(listen, admin, backendAddr string, redisAddrs []string) string {
	return strings.Replace(saleConfig(listen, backendAddr,
		redisExtra(redisAddrs)+fmt.Sprintf("\nadmin: {listen: %q, token: %q}", admin, opsToken), 3),
		"stock: 3, shards: 4}", "stock: 3, shards: 2, pay_within: 1s}", 1)
}

// adminCall is an authenticated admin request: status and JSON answer.
func adminCall(t *testing.T, method, url string) (int, map[string]any) {
	t.Helper()
	code, body, _ := call(t, method, url, "Authorization", "Bearer "+opsToken)
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("%s %s: %d %q is not JSON: %v", method, url, code, body, err)
	}
	return code, m
}

// TestPayWithinTwoGateways: two gateway processes on one Redis sell units
// held for payment. The backend pays one order over the admin API (twice:
// idempotent) and leaves two unpaid: once the deadline passes, a sweeper
// gives those two back exactly once, a late payment is refused 409
// released_unpaid, the numbers agree on both instances, and the units
// sell again.
func TestPayWithinTwoGateways(t *testing.T) {
	rs := redistest.Start(t)
	be := backend(t)
	g := []opsGateway{{addr: freeAddr(t), admin: freeAddr(t)}, {addr: freeAddr(t), admin: freeAddr(t)}}
	for i := range g {
		g[i].cfg = writeFile(t, fmt.Sprintf("gw%d.yaml", i), payConfig(g[i].addr, g[i].admin, be, []string{rs.Addr()}))
	}
	warm(t, g[0].cfg)
	for _, x := range g {
		gateway(t, x.cfg, x.addr)
	}
	keys := map[string]string{}
	for i, u := range []string{"ann", "bob", "cid"} {
		code, body, _ := call(t, "POST", "http://"+g[i%2].addr+"/buy/sale", "X-User-Id", u, "Accept", "application/json")
		var order struct {
			Key string `json:"idempotency_key"`
		}
		if code != 201 || json.Unmarshal([]byte(body), &order) != nil || order.Key == "" {
			t.Fatalf("buy %s: %d %s", u, code, body)
		}
		keys[u] = order.Key
	}
	paid := func(x opsGateway, key string) (int, map[string]any) {
		return adminCall(t, "POST", "http://"+x.admin+"/admin/activities/sale/orders/"+key+"/paid")
	}
	if code, m := paid(g[0], keys["ann"]); code != 200 || m["status"] != "paid" {
		t.Fatalf("paid: %d %v", code, m)
	}
	if code, m := paid(g[1], keys["ann"]); code != 200 || m["status"] != "already_paid" {
		t.Fatalf("paid again, on the other instance: %d %v", code, m)
	}
	// The operator's command line makes the same call.
	if code, out, errOut := cli(t, "admin", "--addr", g[1].admin, "paid", "sale", keys["ann"]); code != 0 || !strings.Contains(out, `"status":"already_paid"`) {
		t.Fatalf("flashgate admin paid: %d %s %s", code, out, errOut)
	}
	if code, _, errOut := cli(t, "admin", "--addr", g[1].admin, "paid", "sale", "sale:nobody:4294967297"); code != 1 || !strings.Contains(errOut, "unknown_order") {
		t.Fatalf("flashgate admin paid of an unknown order: %d %s", code, errOut)
	}
	for _, tc := range []struct {
		key    string
		status int
		reason string
	}{
		{"sale:nobody:4294967297", 404, "unknown_order"},
		{"sale:ann", 400, "bad_key"},
		{"other:ann:4294967297", 400, "bad_key"},
		{"sale:ann:0", 400, "bad_key"},
	} {
		if code, m := paid(g[1], tc.key); code != tc.status || m["error"] != tc.reason {
			t.Errorf("paid %s: %d %v, want %d %s", tc.key, code, m, tc.status, tc.reason)
		}
	}
	if code, body, _ := call(t, "POST", "http://"+g[0].admin+"/admin/activities/sale/orders/"+keys["bob"]+"/paid"); code != 401 {
		t.Errorf("paid without the token: %d %s", code, body)
	}
	if _, m := adminCall(t, "GET", "http://"+g[1].admin+"/admin/activities/sale/stock"); m["held"] != 2.0 || m["paid"] != 1.0 || m["sold"] != 3.0 {
		t.Fatalf("stock before the deadline: %v", m)
	}

	// The deadline is 1 s; each instance sweeps every 500 ms.
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, m := adminCall(t, "GET", "http://"+g[0].admin+"/admin/activities/sale/stock")
		if m["released_unpaid"] == 2.0 {
			if m["held"] != 0.0 || m["paid"] != 1.0 || m["left"] != 2.0 || m["sold"] != 1.0 {
				t.Fatalf("stock after the deadline: %v", m)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the unpaid units did not come back: %v", m)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code, m := paid(g[1], keys["bob"]); code != 409 || m["error"] != "released_unpaid" {
		t.Fatalf("late paid: %d %v", code, m)
	}
	if code, m := paid(g[0], keys["ann"]); code != 200 || m["status"] != "already_paid" {
		t.Fatalf("the paid order after the sweep: %d %v", code, m)
	}
	for _, x := range g {
		m := scrape(t, x)
		for series, want := range map[string]float64{
			`flashgate_activity_units_held{activity="sale"}`:            0,
			`flashgate_activity_units_paid{activity="sale"}`:            1,
			`flashgate_activity_units_released_unpaid{activity="sale"}`: 2,
			`flashgate_activity_units_sold{activity="sale"}`:            1,
		} {
			if got, ok := m[series]; !ok || got != want {
				t.Errorf("%s %s = %v (present %v), want %v", x.admin, series, got, ok, want)
			}
		}
	}
	// The released units sell again, to anyone, and only those.
	for i, u := range []string{"bob", "dan"} {
		if code, body, _ := call(t, "POST", "http://"+g[i].addr+"/buy/sale", "X-User-Id", u, "Accept", "application/json"); code != 201 {
			t.Fatalf("buy %s after the release: %d %s", u, code, body)
		}
	}
	if code, body, _ := call(t, "POST", "http://"+g[0].addr+"/buy/sale", "X-User-Id", "eve", "Accept", "application/json"); code != 410 {
		t.Fatalf("buy after the stock is gone again: %d %s", code, body)
	}
	if o := orders(t, be); o != `{"orders":5,"duplicates":0}` {
		t.Errorf("backend: %s", o)
	}
}
