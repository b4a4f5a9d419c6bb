package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/flashgate/flashgate/internal/redistest"
)

// TestAsyncPayWithinBackendDown: an async sale on Redis with pay_within
// 1 s. carol's order is delivered and paid: it stays sold. The backend
// then stops: bob's order takes the one delivery slot (retried against
// nobody) and alice's waits behind it past its deadline. Both units come
// back unpaid, counted once; alice's poll says failed/unpaid at once, and
// once the backend is back her order is dropped, never delivered.
func TestAsyncPayWithinBackendDown(t *testing.T) {
	raddrs := []string{redistest.Start(t).Addr()}
	kb := startKeyBackend(t, "127.0.0.1:0")
	a, admin := freeAddr(t), freeAddr(t)
	yaml := asyncSaleConfig(a, kb.addr, raddrs, 5,
		"{rate: 100, max_inflight: 1, attempts: 1000, backoff: 50ms, backoff_max: 100ms, claim_idle: 3s}")
	yaml = strings.Replace(yaml, "shards: 4}", "shards: 1, pay_within: 1s}", 1)
	yaml += fmt.Sprintf("admin: {listen: %q, token: %q}\n", admin, opsToken)
	yaml = strings.Replace(yaml, "upstreams: [{name: orders,", "upstreams: [{breaker_failures: -1, name: orders,", 1)
	cfg := writeFile(t, "gw.yaml", yaml)
	warm(t, cfg)
	gateway(t, cfg, a)

	buy := func(user string) string {
		t.Helper()
		code, body, _ := call(t, "POST", "http://"+a+"/buy/sale", "X-User-Id", user, "Accept", "application/json")
		var m struct{ Ticket string }
		if code != 202 || json.Unmarshal([]byte(body), &m) != nil || m.Ticket == "" {
			t.Fatalf("buy %s: %d %s", user, code, body)
		}
		return m.Ticket
	}
	poll := func(user, ticket string) map[string]any {
		t.Helper()
		code, body, _ := call(t, "GET", "http://"+a+"/api/orders/"+ticket, "X-User-Id", user, "Accept", "application/json")
		var m map[string]any
		if code != 200 || json.Unmarshal([]byte(body), &m) != nil {
			t.Fatalf("poll %s: %d %s", ticket, code, body)
		}
		return m
	}
	stockNumbers := func() map[string]any {
		t.Helper()
		_, m := adminCall(t, "GET", "http://"+admin+"/admin/activities/sale/stock")
		return m
	}

	carol := buy("carol")
	waitFor(t, func() bool { return poll("carol", carol)["status"] == "delivered" })
	if code, m := adminCall(t, "POST", "http://"+admin+"/admin/activities/sale/orders/"+carol+"/paid"); code != 200 || m["status"] != "paid" {
		t.Fatalf("paid carol: %d %v", code, m)
	}

	kb.stop()
	bob := buy("bob")
	alice := buy("alice")
	waitFor(t, func() bool {
		st := poll("alice", alice)
		return st["status"] == "failed" && st["reason"] == "unpaid"
	})
	waitFor(t, func() bool { return stockNumbers()["released_unpaid"] == 2.0 })
	if m := stockNumbers(); m["left"] != 4.0 || m["paid"] != 1.0 || m["held"] != 0.0 {
		t.Fatalf("stock after the deadlines: %v, want 4 left (carol's paid unit sold), 1 paid, 0 held", m)
	}
	if code, m := adminCall(t, "POST", "http://"+admin+"/admin/activities/sale/orders/"+alice+"/paid"); code != 409 || m["error"] != "released_unpaid" {
		t.Fatalf("late paid alice: %d %v", code, m)
	}

	kb.listen(t)
	waitFor(t, func() bool { return queueDepth(t, raddrs) == 0 })
	keys, _ := kb.snapshot()
	if keys[alice] != 0 {
		t.Errorf("alice's order delivered %d times after its unit was released unpaid, want never", keys[alice])
	}
	if keys[carol] != 1 {
		t.Errorf("carol's order delivered %d times, want once", keys[carol])
	}
	if st := poll("alice", alice); st["status"] != "failed" || st["reason"] != "unpaid" {
		t.Errorf("alice's poll after the queue dropped her order: %v", st)
	}
	// bob's order was claimed before his deadline: like a sync order
	// delivered and not paid, its unit came back; what the backend sees of
	// it is the README's (the send under way, and the retries unless the
	// forwarder checks again before them).
	t.Logf("bob's order: %v, delivered %d times", poll("bob", bob), keys[bob])
	if m := stockNumbers(); m["left"] != 4.0 || m["released_unpaid"] != 2.0 {
		t.Errorf("stock at the end: %v, want 4 left, 2 released unpaid", m)
	}
}
