package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/flashgate/flashgate/internal/redistest"
)

// TestAsyncWaitReplicas: a gateway process sells async on a master with
// one replica and redis.wait_replicas 1. With the replica up a purchase
// is a 202 whose ledger entry the replica already has; with the replica
// SIGSTOPped every purchase is a 503 busy with Retry-After within
// wait_timeout (plus a generous margin), its unit back in stock and its
// queued order dropped, never delivered; after SIGCONT selling resumes.
func TestAsyncWaitReplicas(t *testing.T) {
	master := redistest.Start(t)
	replica := redistest.StartReplica(t, master)
	t.Cleanup(replica.Resume)
	raddrs := []string{master.Addr()}
	kb := startKeyBackend(t, "127.0.0.1:0")
	const (
		units = 100
		wait  = 50 * time.Millisecond
		users = 10
	)
	a := freeAddr(t)
	g := opsGateway{addr: a, admin: freeAddr(t)}
	cfg := strings.Replace(asyncSaleConfig(a, kb.addr, raddrs, units, "{rate: 1000, claim_idle: 3s}"),
		"timeout: 500ms}", fmt.Sprintf("timeout: 500ms, wait_replicas: 1, wait_timeout: %s}", wait), 1) +
		fmt.Sprintf("\nadmin: {listen: %q, token: %q}\n", g.admin, opsToken)
	if !strings.Contains(cfg, "wait_replicas: 1") {
		t.Fatal("asyncSaleConfig changed: no place for redis.wait_replicas")
	}
	path := writeFile(t, "gw.yaml", cfg)
	warm(t, path)
	gateway(t, path, a)
	buy := func(user string) (int, string, time.Duration) {
		start := time.Now()
		code, _, h := call(t, "POST", "http://"+a+"/buy/sale", "X-User-Id", user, "Accept", "application/json")
		retry := ""
		if h != nil {
			retry = string(h.Peek("Retry-After"))
		}
		return code, retry, time.Since(start)
	}
	rc := redistest.Client(t, replica.Addr())
	const unreplicated = "flashgate_stock_unreplicated_total"
	if v, ok := scrape(t, g)[unreplicated]; !ok || v != 0 {
		t.Fatalf("%s = %v (exported %v) before any purchase, want 0", unreplicated, v, ok)
	}

	// Up: 202, and the replica has the user's ledger entry.
	if code, _, body := call(t, "POST", "http://"+a+"/buy/sale", "X-User-Id", "first", "Accept", "application/json"); code != 202 {
		t.Fatalf("purchase with the replica up = %d %s, want 202", code, body)
	}
	if !hasLedger(t, rc, "first") {
		t.Fatal("the replica has no ledger entry for an acknowledged purchase")
	}
	// Delivered before the pause: a forwarder sends nothing the replicas
	// have not acknowledged, so it would wait for the replica too.
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if keys, _ := kb.snapshot(); len(keys) == 1 {
			break
		}
	}
	if keys, _ := kb.snapshot(); len(keys) != 1 {
		t.Fatalf("the first order was not delivered: %v", keys)
	}

	// Frozen: 503 busy with Retry-After, quickly; nothing held.
	replica.Pause()
	for i := range users {
		code, retry, took := buy(fmt.Sprintf("frozen-%d", i))
		if code != 503 || retry == "" {
			t.Errorf("purchase %d with the replica frozen = %d (Retry-After %q), want 503 with Retry-After", i, code, retry)
		}
		if took > wait+2*time.Second {
			t.Errorf("purchase %d answered after %v, want about %v", i, took, wait)
		}
	}
	// The breaker (redis.breaker_failures 5) answers some of them at
	// once, with no Redis call: at least that many were unreplicated.
	if v := scrape(t, g)[unreplicated]; v < 5 || v > users {
		t.Errorf("%s = %v after %d refused purchases, want 5..%d", unreplicated, v, users, users)
	}
	left := int64(-1)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if left = stockLeft(t, raddrs); left == units-1 {
			break
		}
	}
	if left != units-1 {
		t.Fatalf("left %d with the replica frozen, want %d: the refused purchases' units are not back", left, units-1)
	}
	// Their queued orders are dropped (claim.lua finds them retracted).
	for deadline := time.Now().Add(15 * time.Second); queueDepth(t, raddrs) != 0 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	if d := queueDepth(t, raddrs); d != 0 {
		t.Fatalf("%d orders still queued", d)
	}
	replica.Resume()

	// Back: a purchase succeeds again (bounded: the replica catches up,
	// the Redis breaker closes after its open time).
	code := 0
	for deadline := time.Now().Add(15 * time.Second); code != 202 && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		code, _, _ = buy("after")
	}
	if code != 202 {
		t.Fatalf("purchase after SIGCONT = %d, want 202", code)
	}
	var keys map[string]int
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if keys, _ = kb.snapshot(); len(keys) >= 2 {
			break
		}
	}
	delivered := map[string]bool{}
	for k := range keys {
		delivered[userOf(k)] = true
	}
	if !delivered["first"] || !delivered["after"] || len(keys) != 2 {
		t.Fatalf("delivered %v, want the orders of first and after only", keys)
	}
	if left := stockLeft(t, raddrs); left != units-2 {
		t.Fatalf("left %d, want %d", left, units-2)
	}
}

// hasLedger reports whether any of the sale's 4 shards on the replica
// holds user's ledger record (the state hash's u<user> field).
func hasLedger(t *testing.T, c rueidis.Client, user string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for i := range 4 {
		n, err := c.Do(ctx, c.B().Hexists().Key(fmt.Sprintf("{fg:sale:%d}:s", i)).Field("u"+user).Build()).AsBool()
		if err != nil {
			t.Fatal(err)
		}
		if n {
			return true
		}
	}
	return false
}
