package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/flashgate/flashgate/internal/redistest"
)

// frozenConfig is a gateway with every request-path Redis user on a route
// of its own, and every background loop that talks to the same Redis
// running: the blacklist and the reservation list reload every second,
// and the Redis stock store runs its pub/sub listener and sync loop.
func frozenConfig(listen, backendAddr, redisAddr string) string {
	return fmt.Sprintf(`
server: {listen: "%s", shutdown_timeout: 10s}
log: {level: info, format: text}
redis: {addrs: ["%s"], timeout: 100ms, dial_timeout: 1s}
stock: {store: redis}
upstreams: [{name: orders, addrs: ["%s"], timeout: 5s}]
activities: [{id: sale, product: phone-x, stock: 100000, shards: 4}]
static: {catalogue: %s}
routes:
  - path: /p/{product}
    action: {type: static, page: "{product}"}
  - name: token
    path: /token/{activity}
    filters:
      - identity: {header: X-User-Id, require: true}
    action:
      type: json
      endpoint: order_token
      config: {keys: &keys [{id: k1, secret: "frozen-redis-test-secret-0123456789"}], min_age: 0s}
  - name: buy
    method: POST
    path: /buy/{activity}
    filters:
      - identity: {header: X-User-Id, require: true}
      - blacklist: {refresh: 1s}
      - stock: {}
    action: {type: proxy, upstream: orders, rewrite: /orders}
  - name: buy_short
    method: POST
    path: /buyshort/{activity}
    filters:
      - identity: {header: X-User-Id, require: true}
      - stock: {timeout: 40ms}
    action: {type: proxy, upstream: orders, rewrite: /orders}
  - name: once
    path: /once/{activity}
    filters:
      - identity: {header: X-User-Id, require: true}
      - blacklist: {refresh: 1s}
      - order_token: {keys: *keys, min_age: 0s, single_use: true, redis_timeout: 50ms}
    action: {type: static, page: phone-x}
  - name: limit
    path: /limit/{activity}
    filters:
      - identity: {header: X-User-Id, require: true}
      - blacklist: {refresh: 1s}
      - rate_limit: {scope: user, rate: 100000, burst: 100000, distributed: true, redis_timeout: 50ms}
    action: {type: static, page: phone-x}
  - name: reserve
    path: /reserve/{activity}
    filters:
      - identity: {header: X-User-Id, require: true}
      - blacklist: {refresh: 1s}
      - reservation: {refresh: 1s}
    action: {type: static, page: phone-x}
`, listen, redisAddr, backendAddr, catalogue)
}

// probe is one kind of request-path Redis use, with the bound its answer
// must come within while Redis is frozen.
type probe struct {
	name   string
	bound  time.Duration // the call's own configured timeout
	status int           // the answer expected while Redis is frozen
	send   func(worker, i int) (int, string)
}

// TestFrozenRedisCostsOnlyTheBound: with redis-server stopped (SIGSTOP)
// for 10 s while every background loop keeps calling it, no request-path
// answer takes more than twice its own bound plus 200 ms: a stock
// decision (redis.timeout), a single_use check and a distributed limit
// (their redis_timeout), a reservation lookup (a local copy: no wait at
// all). Slow answers would mean a request waited on a connection that
// another caller was dialling (see internal/redisconn). The margin is for
// -race on 2 cores; the slowest answers measured are in the README.
func TestFrozenRedisCostsOnlyTheBound(t *testing.T) {
	rs := redistest.Start(t)
	rc := redistest.Client(t, rs.Addr())
	be, addr := backend(t), freeAddr(t)
	base := "http://" + addr
	const workers = 4
	users := make([]string, workers)
	for w := range users {
		users[w] = fmt.Sprintf("frozen-%d", w)
	}
	ctx := context.Background()
	if err := rc.Do(ctx, rc.B().Sadd().Key("fg:reservations:sale").Member(users...).Build()).Error(); err != nil {
		t.Fatal(err)
	}
	cfg := writeFile(t, "gw.yaml", frozenConfig(addr, be, rs.Addr()))
	warm(t, cfg)
	gateway(t, cfg, addr)

	// Tokens for the single_use route, minted now and first used while
	// Redis is frozen, so each claim reaches the frozen Redis.
	tokens := make([]string, workers)
	for w := range tokens {
		code, body, _ := call(t, "GET", base+"/token/sale", "X-User-Id", users[w])
		var tok struct{ Token string }
		if err := json.Unmarshal([]byte(body), &tok); code != 200 || err != nil || tok.Token == "" {
			t.Fatalf("token: %d %s", code, body)
		}
		tokens[w] = tok.Token
	}

	probes := []probe{
		{"stock", 100 * time.Millisecond, 503, func(w, i int) (int, string) {
			code, body, _ := call(t, "POST", base+"/buy/sale", "X-User-Id", fmt.Sprintf("buyer-%d-%d", w, i), "Accept", "application/json")
			return code, body
		}},
		// A stock timeout shorter than redis.timeout: the filter's own
		// deadline, not the store's bound (stock.Bounded).
		{"stock_short", 40 * time.Millisecond, 503, func(w, i int) (int, string) {
			code, body, _ := call(t, "POST", base+"/buyshort/sale", "X-User-Id", fmt.Sprintf("short-%d-%d", w, i), "Accept", "application/json")
			return code, body
		}},
		{"single_use", 50 * time.Millisecond, 503, func(w, i int) (int, string) {
			code, body, _ := call(t, "GET", base+"/once/sale", "X-User-Id", users[w], "X-Order-Token", tokens[w], "Accept", "application/json")
			return code, body
		}},
		{"distributed_limit", 50 * time.Millisecond, 503, func(w, i int) (int, string) {
			code, body, _ := call(t, "GET", base+"/limit/sale", "X-User-Id", fmt.Sprintf("limited-%d-%d", w, i), "Accept", "application/json")
			return code, body
		}},
		{"reservation", 100 * time.Millisecond, 200, func(w, i int) (int, string) {
			code, body, _ := call(t, "GET", base+"/reserve/sale", "X-User-Id", users[w], "Accept", "application/json")
			return code, body
		}},
	}
	// Before the freeze every route works, so each kind of call holds a
	// live connection when Redis stops.
	for _, p := range probes[3:] {
		if code, body := p.send(0, -1); code != 200 {
			t.Fatalf("%s before the freeze: %d %s", p.name, code, body)
		}
	}
	for _, p := range probes[:2] {
		if code, body := p.send(0, -1); code != 201 {
			t.Fatalf("%s before the freeze: %d %s", p.name, code, body)
		}
	}

	const freeze = 10 * time.Second
	// Each worker paces itself so that its requests span the whole freeze
	// (the fast answers too); the count bound holds whatever the speed.
	const pace = 5 * time.Millisecond
	const maxPerWorker = int(freeze / pace)
	type result struct {
		took      []time.Duration
		unexpects []string
		last      time.Time // when the last request of the probe was sent
	}
	results := make([]result, len(probes))
	var mu sync.Mutex
	rs.Pause()
	resumed := false
	defer func() {
		if !resumed {
			rs.Resume()
		}
	}()
	end := time.Now().Add(freeze)
	var wg sync.WaitGroup
	for pi, p := range probes {
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var took []time.Duration
				var bad []string
				var start time.Time
				for i := 0; i < maxPerWorker && time.Now().Before(end); i++ {
					start = time.Now()
					code, body := p.send(w, i)
					took = append(took, time.Since(start))
					if code != p.status && len(bad) < 3 {
						bad = append(bad, fmt.Sprintf("%d %.120s", code, body))
					}
					time.Sleep(pace)
				}
				mu.Lock()
				results[pi].took = append(results[pi].took, took...)
				results[pi].unexpects = append(results[pi].unexpects, bad...)
				if start.After(results[pi].last) {
					results[pi].last = start
				}
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	rs.Resume()
	resumed = true

	for pi, p := range probes {
		r := results[pi]
		if len(r.took) == 0 {
			t.Errorf("%s: no answer in %s", p.name, freeze)
			continue
		}
		sort.Slice(r.took, func(i, j int) bool { return r.took[i] < r.took[j] })
		slowest := r.took[len(r.took)-1]
		limit := 2*p.bound + 200*time.Millisecond
		t.Logf("%-17s bound %-5s answers %5d  p50 %6.1fms  p99 %6.1fms  slowest %6.1fms (limit %s)",
			p.name, p.bound, len(r.took), ms(r.took[len(r.took)/2]), ms(r.took[len(r.took)*99/100]), ms(slowest), limit)
		if slowest > limit {
			var over int
			for _, d := range r.took {
				if d > limit {
					over++
				}
			}
			t.Errorf("%s: %d of %d answers took more than %s (slowest %s) while Redis was frozen", p.name, over, len(r.took), limit, slowest)
		}
		if r.last.Before(end.Add(-time.Second)) {
			t.Errorf("%s: the last request went out %s before the freeze ended: the probe did not cover it", p.name, end.Sub(r.last))
		}
		if len(r.unexpects) > 0 {
			t.Errorf("%s: want %d while Redis is frozen, got %v", p.name, p.status, r.unexpects)
		}
	}

	// Redis is back: the sale goes on.
	waitFor(t, func() bool {
		code, _, _ := call(t, "POST", base+"/buy/sale", "X-User-Id", "after-the-freeze")
		return code == 201
	})
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
