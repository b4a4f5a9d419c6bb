package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// saleConfig is a gateway selling one activity through a minimal chain.
func saleConfig(listen, backendAddr, extra string, stock int) string {
	return fmt.Sprintf(`
server: {listen: "%s", shutdown_timeout: 10s}
log: {level: info, format: text}
%s
upstreams: [{name: orders, addrs: ["%s"], timeout: 5s}]
activities: [{id: sale, product: phone-x, stock: %d, shards: 4}]
static: {catalogue: %s}
routes:
  - path: /p/{product}
    action: {type: static, page: "{product}"}
  - name: buy
    method: POST
    path: /buy/{activity}
    filters:
      - identity: {header: X-User-Id, require: true}
      - stock: {}
    action: {type: proxy, upstream: orders, rewrite: /orders}
`, listen, extra, backendAddr, stock, catalogue)
}

// catalogue is the repo's demo catalogue by absolute path, so configs
// written to temp dirs find it.
var catalogue, _ = filepath.Abs("../conf/demo-catalogue.yaml")

// TestDrainOnSIGTERM: a request in flight when SIGTERM arrives still gets
// its answer, then the process exits 0.
func TestDrainOnSIGTERM(t *testing.T) {
	be := backend(t, "-latency", "1s")
	addr := freeAddr(t)
	cfg := writeFile(t, "flashgate.yaml", saleConfig(addr, be, "", 10))
	gw := gateway(t, cfg, addr)

	type result struct {
		code int
		body string
	}
	res := make(chan result, 1)
	go func() {
		code, body, _ := call(t, "POST", "http://"+addr+"/buy/sale", "X-User-Id", "alice")
		res <- result{code, body}
	}()
	time.Sleep(300 * time.Millisecond) // the request is now waiting on the backend
	if err := gw.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	r := <-res
	if r.code != 201 {
		t.Fatalf("in-flight request: %d %s", r.code, r.body)
	}
	if code := gw.wait(t, 15*time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	if got := orders(t, be); got != `{"orders":1,"duplicates":0}` {
		t.Errorf("backend: %s", got)
	}
}

// TestSIGHUPReload: a bad file keeps the running config (and says why, with
// the YAML path); a good one takes effect.
func TestSIGHUPReload(t *testing.T) {
	be := backend(t)
	addr := freeAddr(t)
	good := saleConfig(addr, be, "", 10)
	cfg := writeFile(t, "flashgate.yaml", good)
	gw := gateway(t, cfg, addr)

	// Two problems, one in the schema and one in a filter: both reported.
	mustWrite(t, cfg, "admin: {listen: \"127.0.0.1:1\"}\n"+good+"\n  - {path: /x, filters: [{nope: {}}], action: {type: static, page: mug}}\n")
	_ = gw.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, func() bool {
		out := gw.out.String()
		return strings.Contains(out, `routes[2].filters[0]: unknown filter type \"nope\"`) && strings.Contains(out, "admin.token: required")
	})
	if code, _, _ := call(t, "GET", "http://"+addr+"/p/phone-x"); code != 200 {
		t.Fatalf("old config lost after a bad reload: %d", code)
	}
	mustWrite(t, cfg, good+"\n  - {path: /mug, action: {type: static, page: mug}}\n")
	_ = gw.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, func() bool {
		code, _, _ := call(t, "GET", "http://"+addr+"/mug")
		return code == 200
	})
}

// TestConcurrentBuyersOneGateway: many users, some trying twice, over real
// HTTP: exactly the stock is sold, once per user, and the backend sees
// each idempotency key once.
func TestConcurrentBuyersOneGateway(t *testing.T) {
	be := backend(t)
	addr := freeAddr(t)
	cfg := writeFile(t, "flashgate.yaml", saleConfig(addr, be, "", 37))
	gateway(t, cfg, addr)
	got := buyers(t, []string{addr}, 300, 2)
	if got[201] != 37 {
		t.Errorf("admitted %d, want 37 (statuses %v)", got[201], got)
	}
	if o := orders(t, be); o != `{"orders":37,"duplicates":0}` {
		t.Errorf("backend: %s", o)
	}
}

// buyers sends users×tries purchase attempts spread over the gateways,
// 32 at a time, and counts the answers by status.
func buyers(t *testing.T, addrs []string, users, tries int) map[int]int {
	t.Helper()
	var mu sync.Mutex
	counts := map[int]int{}
	jobs := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				u := j % users
				code, _, _ := call(t, "POST", "http://"+addrs[j%len(addrs)]+"/buy/sale",
					"X-User-Id", fmt.Sprintf("user-%d", u), "Accept", "application/json")
				mu.Lock()
				counts[code]++
				mu.Unlock()
			}
		}()
	}
	deadline := time.Now().Add(60 * time.Second)
	for j := 0; j < users*tries && time.Now().Before(deadline); j++ {
		jobs <- j
	}
	close(jobs)
	wg.Wait()
	return counts
}
