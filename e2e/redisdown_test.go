package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/flashgate/flashgate/internal/redistest"
)

// TestServeStartsWithRedisDown: a gateway (re)started during a Redis
// outage starts at once: its pages serve, a purchase fails closed with
// 503 busy and Retry-After at once (no dial behind it), /readyz says ready
// while /readyz?require=redis does not. Once redis-server comes up on its
// address the gateway connects by itself, with no restart: readiness
// follows, and after a warm-up the same purchase is admitted and its
// order reaches the backend once.
func TestServeStartsWithRedisDown(t *testing.T) {
	rs := redistest.Start(t)
	rs.Stop()
	be, addr := backend(t), freeAddr(t)
	base := "http://" + addr
	cfg := writeFile(t, "gw.yaml", frozenConfig(addr, be, rs.Addr()))
	gateway(t, cfg, addr)

	if code, _, _ := call(t, "GET", base+"/p/phone-x"); code != 200 {
		t.Fatalf("product page with Redis down: %d, want 200", code)
	}
	start := time.Now()
	code, body, h := call(t, "POST", base+"/buy/sale", "X-User-Id", "early", "Accept", "application/json")
	took := time.Since(start)
	if code != 503 || !strings.Contains(body, `"error":"busy"`) || h == nil || string(h.Peek("Retry-After")) == "" {
		t.Fatalf("purchase with Redis never reached: %d %s, want 503 busy with Retry-After", code, body)
	}
	// Well under redis.timeout (100 ms) on a quiet machine; the margin is
	// for -race on 2 shared cores.
	if took > time.Second {
		t.Errorf("purchase with Redis never reached took %s", took)
	}
	t.Logf("purchase before the first connection answered in %s", took)
	if code, body, _ := call(t, "GET", base+"/readyz"); code != 200 {
		t.Errorf("/readyz with Redis down: %d %s, want 200 (pages serve)", code, body)
	}
	if code, body, _ := call(t, "GET", base+"/readyz?require=redis"); code != 503 || !strings.Contains(body, "unreachable") {
		t.Errorf("/readyz?require=redis with Redis down: %d %s, want 503 naming redis unreachable", code, body)
	}

	rs.Restart(t)
	// The background dials back off to 5 s between tries.
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, _, _ := call(t, "GET", base+"/readyz?require=redis")
		if code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("/readyz?require=redis not ready 20 s after redis-server came up")
		}
		time.Sleep(100 * time.Millisecond)
	}
	warm(t, cfg)
	waitFor(t, func() bool {
		code, _, _ := call(t, "POST", base+"/buy/sale", "X-User-Id", "late", "Accept", "application/json")
		return code == 201 || code == 200
	})
	if got := orders(t, be); got != `{"orders":1,"duplicates":0}` {
		t.Errorf("backend after one admitted purchase: %s, want one order, no duplicates", got)
	}
}
