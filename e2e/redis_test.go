package e2e

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/flashgate/flashgate/internal/redistest"
)

func redisExtra(addrs []string) string {
	return fmt.Sprintf(`redis: {addrs: ["%s"], timeout: 200ms}
stock: {store: redis}`, strings.Join(addrs, `", "`))
}

func warm(t *testing.T, cfg string, args ...string) string {
	t.Helper()
	out, err := exec.Command(bin.gateway, append([]string{"warm", "--config", cfg}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("warm: %v\n%s", err, out)
	}
	return string(out)
}

// TestTwoGatewaysOneCluster: two gateway processes on one 3-master Redis
// Cluster sell the same item to a crowd that tries twice each: exactly the
// stock is sold, once per user, and every order reaches the backend once.
func TestTwoGatewaysOneCluster(t *testing.T) {
	cl := redistest.StartCluster(t, 3)
	be := backend(t)
	a1, a2 := freeAddr(t), freeAddr(t)
	cfg1 := writeFile(t, "gw1.yaml", saleConfig(a1, be, redisExtra(cl.Addrs()), 53))
	cfg2 := writeFile(t, "gw2.yaml", saleConfig(a2, be, redisExtra(cl.Addrs()), 53))
	if out := warm(t, cfg1); !strings.Contains(out, "warmed sale: stock=53 shards=4") {
		t.Fatalf("warm: %s", out)
	}
	// Warming again is a no-op, from either instance's config.
	warm(t, cfg2)
	gateway(t, cfg1, a1)
	gateway(t, cfg2, a2)

	got := buyers(t, []string{a1, a2}, 400, 2)
	if got[201] != 53 {
		t.Errorf("admitted %d, want 53 (statuses %v)", got[201], got)
	}
	if o := orders(t, be); o != `{"orders":53,"duplicates":0}` {
		t.Errorf("backend: %s", o)
	}
	// Both instances now answer the crowd from memory: sold out.
	for _, a := range []string{a1, a2} {
		if code, body, _ := call(t, "POST", "http://"+a+"/buy/sale", "X-User-Id", "late", "Accept", "application/json"); code != 410 {
			t.Errorf("%s after the sale: %d %s", a, code, body)
		}
	}
}

// redisSale runs a backend and a gateway selling stock units from rs,
// warmed; it returns their addresses.
func redisSale(t *testing.T, rs *redistest.Server, stock int) (backendAddr, addr string) {
	t.Helper()
	backendAddr, addr = backend(t), freeAddr(t)
	cfg := writeFile(t, "gw.yaml", saleConfig(addr, backendAddr, redisExtra([]string{rs.Addr()}), stock))
	warm(t, cfg)
	gateway(t, cfg, addr)
	return backendAddr, addr
}

// TestRedisHangsMidSale: while Redis does not answer, purchases get a fast
// 503 with Retry-After, never an admission; when it comes back the sale
// goes on and still sells exactly the stock.
func TestRedisHangsMidSale(t *testing.T) {
	rs := redistest.Start(t)
	be, addr := redisSale(t, rs, 20)

	for i := 0; i < 5; i++ {
		if code, body, _ := call(t, "POST", "http://"+addr+"/buy/sale", "X-User-Id", fmt.Sprintf("early-%d", i)); code != 201 {
			t.Fatalf("before the outage: %d %s", code, body)
		}
	}
	rs.Pause()
	for i := 0; i < 5; i++ {
		start := time.Now()
		code, body, h := call(t, "POST", "http://"+addr+"/buy/sale", "X-User-Id", fmt.Sprintf("during-%d", i), "Accept", "application/json")
		took := time.Since(start)
		if code != 503 || !strings.Contains(body, `"error":"busy"`) || h == nil || string(h.Peek("Retry-After")) == "" {
			t.Fatalf("during the outage: %d %s", code, body)
		}
		if took > 3*time.Second {
			t.Errorf("503 took %s: a hung Redis must not hang the gateway", took)
		}
	}
	rs.Resume()
	// The crowd comes back: 100 more users for the 15 units left.
	waitFor(t, func() bool {
		code, _, _ := call(t, "POST", "http://"+addr+"/buy/sale", "X-User-Id", "probe")
		return code == 201
	})
	got := buyers(t, []string{addr}, 100, 1)
	if total := 5 + 1 + got[201]; total != 20 {
		t.Errorf("sold %d in all, want 20 (statuses %v)", total, got)
	}
	if o := orders(t, be); o != `{"orders":20,"duplicates":0}` {
		t.Errorf("backend: %s", o)
	}
}

// TestRedisLostMidSale: a Redis that restarts empty is not a free pass:
// the gateway answers 503 (not loaded) until an operator warms it again.
func TestRedisLostMidSale(t *testing.T) {
	rs := redistest.Start(t)
	be, addr := redisSale(t, rs, 20)
	if code, _, _ := call(t, "POST", "http://"+addr+"/buy/sale", "X-User-Id", "u0"); code != 201 {
		t.Fatalf("first purchase: %d", code)
	}
	rs.Kill()
	if code, _, _ := call(t, "POST", "http://"+addr+"/buy/sale", "X-User-Id", "u1"); code != 503 {
		t.Fatalf("with Redis down: %d", code)
	}
	rs.Restart(t)
	waitFor(t, func() bool {
		code, body, _ := call(t, "POST", "http://"+addr+"/buy/sale", "X-User-Id", "u2", "Accept", "application/json")
		return code == 503 && strings.Contains(body, "not_loaded")
	})
	if o := orders(t, be); o != `{"orders":1,"duplicates":0}` {
		t.Errorf("backend: %s", o)
	}
}
