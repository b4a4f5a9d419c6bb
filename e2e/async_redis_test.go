package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/valyala/fasthttp"

	"github.com/flashgate/flashgate/internal/redistest"
	"github.com/flashgate/flashgate/stock"
)

// asyncSaleConfig is saleConfig with the purchase route in async mode on
// the Redis store.
func asyncSaleConfig(listen, backendAddr string, addrs []string, stock int, queue string) string {
	return fmt.Sprintf(`
server: {listen: "%s", shutdown_timeout: 10s}
log: {level: info, format: text}
redis: {addrs: ["%s"], timeout: 500ms}
stock: {store: redis}
upstreams: [{name: orders, addrs: ["%s"], timeout: 1s, connect_timeout: 200ms}]
activities: [{id: sale, product: phone-x, stock: %d, shards: 4}]
static: {catalogue: %s}
routes:
  - name: buy
    method: POST
    path: /buy/{activity}
    filters:
      - identity: {header: X-User-Id, require: true}
      - stock: {}
    action: {type: proxy, upstream: orders, rewrite: /orders, mode: async, queue: %s}
  - path: /api/orders/{ticket}
    filters: [{identity: {header: X-User-Id, require: true}}]
    action: {type: json, endpoint: order_status}
`, listen, strings.Join(addrs, `", "`), backendAddr, stock, catalogue, queue)
}

// keyBackend is an order backend that accepts every order, duplicates
// included, and counts them by Idempotency-Key, with the time of each.
type keyBackend struct {
	mu       sync.Mutex
	byKey    map[string]int
	times    []time.Time
	inflight atomic.Int64
	peak     atomic.Int64
	addr     string
	srv      *fasthttp.Server
	delay    time.Duration // per order
	// failing makes every order answer 503 (counted in failed, not in
	// byKey): a backend that is down but answering.
	failing atomic.Bool
	failed  atomic.Int64
}

func startKeyBackend(t *testing.T, addr string) *keyBackend {
	t.Helper()
	kb := &keyBackend{byKey: map[string]int{}, addr: addr}
	kb.listen(t)
	return kb
}

func (kb *keyBackend) listen(t *testing.T) {
	t.Helper()
	var ln net.Listener
	var err error
	for i := 0; i < 100; i++ { // the port of a stopped backend may take a moment
		if ln, err = net.Listen("tcp4", kb.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	kb.addr = ln.Addr().String()
	kb.srv = &fasthttp.Server{Handler: kb.handle}
	go func() { _ = kb.srv.Serve(ln) }()
	t.Cleanup(func() { _ = kb.srv.Shutdown() })
}

func (kb *keyBackend) stop() { _ = kb.srv.Shutdown() }

func (kb *keyBackend) handle(ctx *fasthttp.RequestCtx) {
	in := kb.inflight.Add(1)
	defer kb.inflight.Add(-1)
	for p := kb.peak.Load(); in > p && !kb.peak.CompareAndSwap(p, in); p = kb.peak.Load() {
	}
	time.Sleep(kb.delay)
	if kb.failing.Load() {
		kb.failed.Add(1)
		ctx.SetStatusCode(503)
		return
	}
	key := string(ctx.Request.Header.Peek("Idempotency-Key"))
	kb.mu.Lock()
	kb.byKey[key]++
	kb.times = append(kb.times, time.Now())
	kb.mu.Unlock()
	ctx.SetStatusCode(201)
	ctx.SetContentType("application/json")
	ctx.SetBodyString(`{"order_id":"` + key + `"}`)
}

func (kb *keyBackend) snapshot() (keys map[string]int, times []time.Time) {
	kb.mu.Lock()
	defer kb.mu.Unlock()
	keys = make(map[string]int, len(kb.byKey))
	for k, v := range kb.byKey {
		keys[k] = v
	}
	return keys, append([]time.Time(nil), kb.times...)
}

// twoAsyncGateways warms the sale and starts two gateway processes
// selling it async on one Redis, returning the first and both addresses.
func twoAsyncGateways(t *testing.T, backend string, raddrs []string, stock int, queue string) (g1 *proc, a1, a2 string) {
	t.Helper()
	a1, a2 = freeAddr(t), freeAddr(t)
	cfg1 := writeFile(t, "gw1.yaml", asyncSaleConfig(a1, backend, raddrs, stock, queue))
	cfg2 := writeFile(t, "gw2.yaml", asyncSaleConfig(a2, backend, raddrs, stock, queue))
	warm(t, cfg1)
	g1 = gateway(t, cfg1, a1)
	gateway(t, cfg2, a2)
	return g1, a1, a2
}

// asyncBuyers sends one purchase per user (round robin over addrs, 16 at
// a time, each worker pausing pause between its requests, bounded to
// 60 s) and returns the tickets of every 202; once killNow says so it
// calls kill, once.
func asyncBuyers(t *testing.T, addrs []string, users int, pause time.Duration, killNow func() bool, kill func()) (tickets []string, codes map[int]int) {
	t.Helper()
	var mu sync.Mutex
	codes = map[int]int{}
	jobs := make(chan int)
	var wg sync.WaitGroup
	var answered atomic.Int64
	var once sync.Once
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				code, body, _ := call(t, "POST", "http://"+addrs[j%len(addrs)]+"/buy/sale",
					"X-User-Id", fmt.Sprintf("user-%d", j), "Accept", "application/json")
				mu.Lock()
				codes[code]++
				if code == 202 {
					var m struct{ Ticket string }
					if err := json.Unmarshal([]byte(body), &m); err != nil || m.Ticket == "" {
						t.Errorf("202 without a ticket: %q", body)
					}
					tickets = append(tickets, m.Ticket)
				}
				mu.Unlock()
				answered.Add(1)
				if kill != nil && killNow() {
					once.Do(kill)
				}
				time.Sleep(pause)
			}
		}()
	}
	deadline := time.Now().Add(60 * time.Second)
	for j := 0; j < users && time.Now().Before(deadline); j++ {
		jobs <- j
	}
	close(jobs)
	wg.Wait()
	return tickets, codes
}

// TestAsyncTwoGatewaysOneKilled: two gateway processes on one Redis sell
// in async mode; one is SIGKILLed mid-sale. Every 202 a client saw
// reaches the backend, the units add up to the stock, and the only orders
// sent twice are the dead instance's in-flight ones (at most its
// max_inflight), with the same key.
func TestAsyncTwoGatewaysOneKilled(t *testing.T) {
	for name, addrs := range map[string]func() []string{
		"standalone": func() []string { return []string{redistest.Start(t).Addr()} },
		"cluster":    func() []string { return redistest.StartCluster(t, 3).Addrs() },
	} {
		t.Run(name, func(t *testing.T) {
			raddrs := addrs()
			kb := startKeyBackend(t, "127.0.0.1:0")
			kb.delay = 100 * time.Millisecond // so the killed instance has orders in flight
			const stock, users, maxInflight = 150, 250, 8
			queue := fmt.Sprintf("{rate: 300, max_inflight: %d, attempts: 6, backoff: 50ms, claim_idle: 3s}", maxInflight)
			g1, a1, a2 := twoAsyncGateways(t, kb.addr, raddrs, stock, queue)

			// SIGKILL gw1 mid-sale, once deliveries are under way.
			var killedAt time.Time
			delivering := func() bool { keys, _ := kb.snapshot(); return len(keys) >= 20 }
			tickets, codes := asyncBuyers(t, []string{a1, a2}, users, 40*time.Millisecond, delivering, func() {
				keys, _ := kb.snapshot()
				killedAt = time.Now()
				t.Logf("SIGKILL with %d orders at the backend, %d in flight", len(keys), kb.inflight.Load())
				if err := g1.cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Errorf("SIGKILL: %v", err)
				}
			})
			t.Logf("answers: %v", codes)
			if !g1Killed(g1) {
				t.Fatal("the load ended before deliveries began: gw1 was not killed mid-sale")
			}
			if len(tickets) == 0 || codes[410] == 0 {
				t.Fatalf("the sale did not sell out: %v", codes)
			}
			// Every unit sold has its order delivered, by gw2 alone now,
			// and the Streams drain (gw1's entries taken over after
			// claim_idle).
			within := time.Now().Add(60 * time.Second)
			for queueDepth(t, raddrs) != 0 && time.Now().Before(within) {
				time.Sleep(100 * time.Millisecond)
			}
			if d := queueDepth(t, raddrs); d != 0 {
				t.Errorf("%d orders still queued after 60 s", d)
			}
			keys, _ := kb.snapshot()
			for _, tk := range tickets {
				if keys[tk] == 0 {
					t.Errorf("ticket %s (a 202) never reached the backend", tk)
				}
			}
			if len(keys) != stock {
				t.Errorf("backend has %d distinct orders, want the stock %d (admitted == delivered, no dead letters here)", len(keys), stock)
			}
			left := stockLeft(t, raddrs)
			if left != 0 {
				t.Errorf("left %d after the sell-out", left)
			}
			redelivered := 0
			for _, n := range keys {
				if n > 1 {
					redelivered += n - 1
				}
			}
			_, times := kb.snapshot()
			t.Logf("202s seen %d, orders delivered %d, redeliveries %d (max_inflight of the killed instance %d), last delivery %v after the SIGKILL",
				len(tickets), len(keys), redelivered, maxInflight, times[len(times)-1].Sub(killedAt).Round(time.Millisecond))
			if redelivered > maxInflight {
				t.Errorf("%d redeliveries > the dead instance's max_inflight %d", redelivered, maxInflight)
			}
			// Polls of a delivered ticket answer on the surviving instance.
			if len(tickets) > 0 {
				tk := tickets[0]
				user := strings.Split(tk, ":")[1]
				if code, body, _ := call(t, "GET", "http://"+a2+"/api/orders/"+tk, "X-User-Id", user); code != 200 || !strings.Contains(body, `"status":"delivered"`) {
					t.Errorf("poll %s: %d %s", tk, code, body)
				}
			}
		})
	}
}

// TestAsyncSIGTERMHandsBack: a gateway stopped with SIGTERM in the
// middle of an async sale hands the orders it holds (waiting for a retry)
// back to the fleet: the other instance delivers them within seconds,
// not after claim_idle (a minute here), each once.
func TestAsyncSIGTERMHandsBack(t *testing.T) {
	raddrs := []string{redistest.Start(t).Addr()}
	kb := startKeyBackend(t, "127.0.0.1:0")
	kb.failing.Store(true)
	const stock = 24
	queue := "{rate: 200, max_inflight: 4, attempts: 1000, backoff: 5s, backoff_max: 5s, claim_idle: 60s}"
	g1, a1, a2 := twoAsyncGateways(t, kb.addr, raddrs, stock, queue)
	tickets, codes := asyncBuyers(t, []string{a1, a2}, stock, 0, nil, nil)
	if len(tickets) != stock {
		t.Fatalf("202s %d, want %d: %v", len(tickets), stock, codes)
	}
	// Both instances hold max_inflight orders, each failed once and now
	// waiting 2.5-5 s for its retry.
	for deadline := time.Now().Add(20 * time.Second); kb.failed.Load() < 8 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	if n := kb.failed.Load(); n < 8 {
		t.Fatalf("only %d sends failed: the instances do not hold their orders", n)
	}
	kb.failing.Store(false)
	stopped := time.Now()
	if err := g1.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := g1.wait(t, 15*time.Second); code != 0 {
		t.Fatalf("gw1 exit %d after SIGTERM", code)
	}
	if !strings.Contains(g1.out.String(), "orders handed back") {
		t.Errorf("gw1 logged no hand-back:\n%s", g1.out.String())
	}
	var keys map[string]int
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if keys, _ = kb.snapshot(); len(keys) == stock && queueDepth(t, raddrs) == 0 {
			break
		}
	}
	took := time.Since(stopped)
	for _, tk := range tickets {
		if keys[tk] != 1 {
			t.Errorf("ticket %s accepted %d times by the backend, want once", tk, keys[tk])
		}
	}
	// claim_idle is 60 s: only a hand-back lets gw2 have gw1's orders
	// sooner (a retry waits at most 5 s, a takeover scan runs each second).
	if took > 20*time.Second {
		t.Errorf("every order delivered %v after the SIGTERM: gw1's orders waited for claim_idle", took)
	}
	t.Logf("all %d orders delivered, each once, %v after gw1's SIGTERM (claim_idle 60 s)", stock, took.Round(time.Millisecond))
}

func g1Killed(p *proc) bool {
	select {
	case <-p.done:
		return true
	case <-time.After(5 * time.Second):
		return false
	}
}

// stockLeft reads the sale's units left from Redis, through the store.
func stockLeft(t *testing.T, addrs []string) int64 {
	t.Helper()
	n, _ := saleNumbers(t, addrs)
	return n
}

// queueDepth is how many orders of the sale its Streams still hold.
func queueDepth(t *testing.T, addrs []string) int64 {
	t.Helper()
	_, d := saleNumbers(t, addrs)
	return d
}

func saleNumbers(t *testing.T, addrs []string) (left, depth int64) {
	t.Helper()
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: addrs, DisableCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := stock.NewRedis(stock.RedisOptions{Client: c, Prefix: "fg:", Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	left, err = s.Left(ctx, "sale")
	if err != nil {
		t.Fatal(err)
	}
	depth, _, err = s.(*stock.RedisStore).QueueDepth(ctx, "sale")
	if err != nil {
		t.Fatal(err)
	}
	return left, depth
}

// TestAsyncBackendDown: the backend stops for part of an async sale: the
// orders wait in Redis and are all delivered once it is back, at no more
// than queue.rate.
func TestAsyncBackendDown(t *testing.T) {
	raddrs := []string{redistest.Start(t).Addr()}
	kb := startKeyBackend(t, "127.0.0.1:0")
	kb.delay = 10 * time.Millisecond
	const stock, rate = 40, 20
	a := freeAddr(t)
	cfg := writeFile(t, "gw.yaml", asyncSaleConfig(a, kb.addr, raddrs, stock,
		fmt.Sprintf("{rate: %d, max_inflight: 4, attempts: 1000, backoff: 50ms, backoff_max: 200ms, claim_idle: 3s}", rate)))
	warm(t, cfg)
	gateway(t, cfg, a)
	kb.stop()
	tickets, codes := asyncBuyers(t, []string{a}, stock, 0, nil, nil)
	if len(tickets) != stock {
		t.Fatalf("202s %d, want %d: %v", len(tickets), stock, codes)
	}
	time.Sleep(time.Second) // the forwarder retries against nobody
	if keys, _ := kb.snapshot(); len(keys) != 0 {
		t.Fatalf("delivered while the backend was down: %d", len(keys))
	}
	back := time.Now()
	kb.listen(t)
	var keys map[string]int
	var times []time.Time
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if keys, times = kb.snapshot(); len(keys) == stock {
			break
		}
	}
	for _, tk := range tickets {
		if keys[tk] == 0 {
			t.Errorf("ticket %s never delivered", tk)
		}
	}
	// At most rate per second (+1 for the bucket's burst) in any second.
	for i := range times {
		n := 0
		for j := i; j < len(times) && times[j].Sub(times[i]) < time.Second; j++ {
			n++
		}
		if n > rate+1 {
			t.Fatalf("%d deliveries within one second from %v, rate %d", n, times[i].Sub(back), rate)
		}
	}
	t.Logf("%d orders delivered in %v after the backend came back", len(keys), times[len(times)-1].Sub(back))
}
