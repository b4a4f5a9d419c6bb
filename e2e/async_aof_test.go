package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/flashgate/flashgate/internal/redistest"
	"github.com/flashgate/flashgate/stock"
)

// answer is one purchase as a client saw it.
type answer struct {
	user       string
	code       int
	ticket     string
	start, end time.Time
}

// steadyBuyers sends purchases from distinct users (user-0, user-1, ...),
// round robin over addrs, workers at a time, each worker pausing pause
// between its requests, until end is called, at most users users and 60 s.
type steadyBuyers struct {
	mu      sync.Mutex
	answers []answer
	stop    chan struct{}
	wg      sync.WaitGroup
}

func startSteadyBuyers(t *testing.T, addrs []string, workers, users int, pause time.Duration) *steadyBuyers {
	sb := &steadyBuyers{stop: make(chan struct{})}
	var next atomic.Int64
	deadline := time.Now().Add(60 * time.Second)
	for w := 0; w < workers; w++ {
		sb.wg.Add(1)
		go func() {
			defer sb.wg.Done()
			for {
				select {
				case <-sb.stop:
					return
				default:
				}
				j := int(next.Add(1)) - 1
				if j >= users || time.Now().After(deadline) {
					return
				}
				a := answer{user: fmt.Sprintf("user-%d", j), start: time.Now()}
				code, body, _ := call(t, "POST", "http://"+addrs[j%len(addrs)]+"/buy/sale",
					"X-User-Id", a.user, "Accept", "application/json")
				a.code, a.end = code, time.Now()
				if code == 202 {
					var m struct{ Ticket string }
					if err := json.Unmarshal([]byte(body), &m); err != nil || m.Ticket == "" {
						t.Errorf("202 without a ticket: %q", body)
					}
					a.ticket = m.Ticket
				}
				sb.mu.Lock()
				sb.answers = append(sb.answers, a)
				sb.mu.Unlock()
				time.Sleep(pause)
			}
		}()
	}
	return sb
}

func (sb *steadyBuyers) end() []answer {
	close(sb.stop)
	sb.wg.Wait()
	return sb.answers
}

// deadLetters is the users whose orders the sale's dead-letter Streams hold.
func deadLetters(t *testing.T, addr string, shards int) map[string]bool {
	t.Helper()
	c := redistest.Client(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	users := map[string]bool{}
	for i := 0; i < shards; i++ {
		entries, err := c.Do(ctx, c.B().Xrange().Key(fmt.Sprintf("{fg:sale:%d}:dead", i)).Start("-").End("+").Build()).AsXRange()
		if err != nil && !rueidis.IsRedisNil(err) {
			t.Fatal(err)
		}
		for _, e := range entries {
			// id is "n:user"
			if _, user, ok := strings.Cut(e.FieldValues["id"], ":"); ok {
				users[user] = true
			}
		}
	}
	return users
}

// saleCounts returns a reader of the sale's stock numbers, through the
// store, as the admin API shows them.
func saleCounts(t *testing.T, addr string) func() stock.Counts {
	t.Helper()
	s, err := stock.NewRedis(stock.RedisOptions{Client: redistest.Client(t, addr), Prefix: "fg:", Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return func() stock.Counts {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		n, err := s.Counts(ctx, "sale")
		if err != nil {
			t.Fatalf("the sale's counts after the restart: %v", err)
		}
		return n
	}
}

// TestAsyncRedisKilledWithAOF: two gateways sell in async mode on one
// redis-server with appendonly yes and appendfsync always; the server is
// SIGKILLed mid-sale and restarted on the same port and directory while
// the load goes on. During the outage every purchase gets a fast 503;
// afterwards the queue drains and: no oversell, every 202 a client saw
// reaches the backend and polls as delivered, each user's order arrives
// under one key only (a key sent twice is a redelivery), and the stock
// numbers agree with the backend (sold == orders delivered and not
// dead-lettered).
func TestAsyncRedisKilledWithAOF(t *testing.T) {
	rs := redistest.StartAOF(t)
	raddrs := []string{rs.Addr()}
	kb := startKeyBackend(t, "127.0.0.1:0")
	kb.delay = 20 * time.Millisecond // so orders are in flight at the kill
	const (
		units        = 1000
		shards       = 4
		redisTimeout = 500 * time.Millisecond // asyncSaleConfig's redis.timeout
		outage       = 2 * time.Second
	)
	// A rate below the admissions' pace, so orders wait in the Streams
	// when Redis dies.
	queue := "{rate: 500, max_inflight: 8, attempts: 6, backoff: 50ms, claim_idle: 3s}"
	a1, a2 := freeAddr(t), freeAddr(t)
	cfg1 := writeFile(t, "gw1.yaml", asyncSaleConfig(a1, kb.addr, raddrs, units, queue))
	cfg2 := writeFile(t, "gw2.yaml", asyncSaleConfig(a2, kb.addr, raddrs, units, queue))
	warm(t, cfg1)
	gateway(t, cfg1, a1)
	gateway(t, cfg2, a2)

	sb := startSteadyBuyers(t, []string{a1, a2}, 16, 20000, 10*time.Millisecond)
	// SIGKILL redis-server once deliveries are under way, mid-sale.
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if keys, _ := kb.snapshot(); len(keys) >= 5 {
			break
		}
		if time.Now().After(deadline) {
			sb.end()
			t.Fatal("no deliveries within 15 s")
		}
	}
	rs.Kill()
	killedAt := time.Now()
	// The orders the forwarders had sent reach the backend within its
	// delay; what the backend lacks after that only Redis's own data
	// (the AOF) can bring back.
	time.Sleep(200 * time.Millisecond)
	keysAtKill, _ := kb.snapshot()
	var waiting []string // 202s before the kill, not delivered
	sb.mu.Lock()
	admittedBefore := 0
	for _, a := range sb.answers {
		if a.code == 202 && a.end.Before(killedAt) {
			admittedBefore++
			if keysAtKill[a.ticket] == 0 {
				waiting = append(waiting, a.ticket)
			}
		}
	}
	sb.mu.Unlock()
	if admittedBefore >= units {
		t.Fatalf("sold out (%d 202s) before the kill: not mid-sale", admittedBefore)
	}
	if len(waiting) == 0 {
		t.Fatalf("no acknowledged order was waiting in Redis at the kill (%d 202s, %d at the backend): the kill tested nothing", admittedBefore, len(keysAtKill))
	}
	time.Sleep(outage - 200*time.Millisecond)
	restartAt := time.Now()
	rs.Restart(t)
	backAt := time.Now()
	time.Sleep(3 * time.Second) // the sale goes on
	answers := sb.end()

	// The queue drains: every order the Streams hold is delivered.
	for deadline := time.Now().Add(30 * time.Second); queueDepth(t, raddrs) != 0 && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
	}
	if d := queueDepth(t, raddrs); d != 0 {
		t.Errorf("%d orders still queued 30 s after the load ended", d)
	}

	codes := map[int]int{}
	var tickets []string
	var during, duringSlow int
	var duringMax time.Duration
	for _, a := range answers {
		codes[a.code]++
		if a.code == 202 {
			tickets = append(tickets, a.ticket)
		}
		if a.start.After(killedAt) && a.end.Before(restartAt) {
			during++
			took := a.end.Sub(a.start)
			duringMax = max(duringMax, took)
			if a.code != 503 {
				t.Errorf("%s during the outage: %d, want 503", a.user, a.code)
			}
			if took > redisTimeout+2*time.Second {
				duringSlow++
			}
		}
	}
	t.Logf("answers %v; %d during the outage, slowest %v; restart took %v", codes, during, duringMax.Round(time.Millisecond), backAt.Sub(restartAt).Round(time.Millisecond))
	if during == 0 {
		t.Error("no purchase was answered during the outage")
	}
	if duringSlow > 0 {
		t.Errorf("%d purchases during the outage took longer than %v: a dead Redis must not hang them", duringSlow, redisTimeout+2*time.Second)
	}
	resumed := 0 // 202s to purchases sent after the restart
	for _, a := range answers {
		if a.start.After(backAt) && a.code == 202 {
			resumed++
		}
	}
	if resumed == 0 {
		t.Errorf("no 202 after the restart (%d before the kill, %d in all): the sale did not go on", admittedBefore, len(tickets))
	}

	// Give-backs of purchases cut by the kill run in the background
	// (abandon, reconcile): wait for the numbers to settle.
	dead := deadLetters(t, rs.Addr(), shards)
	counts := saleCounts(t, rs.Addr())
	var keys map[string]int
	var c stock.Counts
	var live int
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		keys, _ = kb.snapshot()
		c = counts()
		live = 0
		for k := range keys {
			if !dead[userOf(k)] {
				live++
			}
		}
		if int64(live) == c.Sold || time.Now().After(deadline) {
			break
		}
	}
	// No oversell.
	if len(keys) > units || c.Sold > units || c.Left < 0 || c.Sold+c.Left != c.Total {
		t.Errorf("oversell: %d distinct orders at the backend, counts %+v, stock %d", len(keys), c, units)
	}
	// Sold is what the backend holds, minus what was dead-lettered (its
	// unit given back).
	if c.Sold != int64(live) {
		t.Errorf("sold %d, but %d orders delivered and not dead-lettered (%d dead letters)", c.Sold, live, len(dead))
	}
	// Nothing acknowledged is lost.
	for _, tk := range tickets {
		if keys[tk] == 0 {
			t.Errorf("ticket %s (a 202) never reached the backend", tk)
		}
	}
	for _, tk := range waiting {
		if keys[tk] == 0 {
			t.Errorf("ticket %s was waiting in Redis at the kill and was never delivered", tk)
		}
	}
	// Every 202's poll says delivered, on either instance: an order whose
	// backend answer came while Redis was down must not read "queued"
	// for ever.
	notDelivered := 0
	for i, tk := range tickets {
		code, body, _ := call(t, "GET", "http://"+[]string{a1, a2}[i%2]+"/api/orders/"+tk, "X-User-Id", userOf(tk))
		if code != 200 || !strings.Contains(body, `"status":"delivered"`) {
			if notDelivered++; notDelivered <= 5 {
				t.Errorf("poll of %s (at the backend %d times): %d %s", tk, keys[tk], code, body)
			}
		}
	}
	if notDelivered > 0 {
		t.Errorf("%d of %d delivered tickets do not poll as delivered", notDelivered, len(tickets))
	}
	// Each user buys once: two keys of one user would be one purchase
	// sent twice as two orders. A key seen twice is a redelivery.
	perUser := map[string]string{}
	redelivered := 0
	for k, n := range keys {
		u := userOf(k)
		if other, ok := perUser[u]; ok {
			t.Errorf("user %s has two orders at the backend: %s and %s", u, other, k)
		}
		perUser[u] = k
		redelivered += n - 1
	}
	t.Logf("stock %d: %d orders at the backend at the kill, %d 202s before it (%d of them waiting in Redis), %d after the restart, %d in all; %d distinct orders delivered (%d beyond the 202s: purchases cut by the kill that Redis had taken), %d redeliveries with the same key, %d dead letters; counts sold %d left %d",
		units, len(keysAtKill), admittedBefore, len(waiting), resumed, len(tickets), len(keys), len(keys)-len(tickets), redelivered, len(dead), c.Sold, c.Left)
}

// userOf is the user of an order key "activity:user:seq".
func userOf(key string) string {
	parts := strings.Split(key, ":")
	if len(parts) != 3 {
		return key
	}
	return parts[1]
}
