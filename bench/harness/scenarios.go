package main

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/valyala/fasthttp"
)

// scenario is one row group of the table; run measures it once per round.
type scenario struct {
	name, title string
	run         func(h *harness, name string, round int) error
}

// optIn scenarios run only when -only names them: too long for the
// default run. shaving takes about 25 s a round (two 10 s loads and the
// async drain).
var optIn = map[string]bool{"shaving": true}

// scenarios run in this order within each round.
var scenarios = []scenario{
	{"page_plain", "product page, plain (vs nginx, same bytes from disk)", pages("page_plain.lua")},
	{"page_gzip", "product page, gzip (vs nginx gzip_static)", pages("page_gzip.lua")},
	{"status", "countdown pollers of the status JSON", wrkOnly(spec{script: "status.lua", path: "/api/activities/sale/status", routes: []string{"status"}})},
	{"token", "order-token fetch, distinct users", wrkOnly(spec{script: "token.lua", path: "/api/activities/big/token", routes: []string{"order_token"}})},
	{"storm_local", "purchase storm, full chain on Redis, answered locally", wrkOnly(spec{path: "/bench/chain/big", routes: []string{"buy_local"}, storm: true})},
	{"storm_proxy", "purchase storm, full chain on Redis, proxied to the backend", wrkOnly(spec{path: "/bench/order/big", routes: []string{"buy_proxy"}, storm: true, orders: true})},
	{"soldout", "sold-out answers, full chain", wrkOnly(spec{path: "/bench/chain/soldout", routes: []string{"buy_local"}, activity: "soldout", users: -1, cycle: true})},
	{"repeat", "repeat buyers (500 users, again and again)", wrkOnly(spec{path: "/bench/chain/big", routes: []string{"buy_local"}, users: 500, cycle: true})},
	{"bots", "bots: no token, too-young token, blacklisted", wrkOnly(spec{path: "/bench/chain/big", routes: []string{"buy_local"}, users: 30000, cycle: true,
		kinds: []mix{{none, 1}, {young, 1}, {blacklisted, 1}}})},
	{"flash_sale", "flash sale: countdown, spike of distinct users over 2 gateways, sold-out tail", runSpike},
	{"redis_scripts", "stock scripts on the same Redis (redis-benchmark)", runRedisScripts},
	{"shaving", "peak shaving: a 200 orders/s backend, sync vs async (queue.rate 200)", runShaving},
}

func scenarioNames() []string {
	var n []string
	for _, s := range scenarios {
		if optIn[s.name] {
			n = append(n, s.name+"*")
		} else {
			n = append(n, s.name)
		}
	}
	return n
}

// spec is a wrk scenario against the main gateway.
type spec struct {
	script   string // default users.lua
	path     string
	routes   []string // whose rejection reasons count
	activity string   // of the minted tokens; default "big"
	storm    bool     // distinct users: duration × storm-rate of them
	users    int      // replayed users; -1: soldout-users
	cycle    bool
	kinds    []mix
	orders   bool // proxied: orders at the backend must equal admissions
}

// pages runs script against flashgate and nginx, in alternating order.
func pages(script string) func(*harness, string, int) error {
	return func(h *harness, name string, round int) error {
		type server struct {
			name string
			g    *gw
		}
		servers := []server{{"flashgate", h.main}}
		for _, v := range h.variants {
			servers = append(servers, server{"flashgate " + v.name, v.g})
		}
		servers = append(servers, server{"nginx", nil})
		if round%2 == 0 { // drift hits both ends alike
			for i, j := 0, len(servers)-1; i < j; i, j = i+1, j-1 {
				servers[i], servers[j] = servers[j], servers[i]
			}
		}
		for _, srv := range servers {
			addr := h.nginxAddr
			if srv.g != nil {
				addr = srv.g.addr
			}
			// One unrecorded second first, so that no server is measured
			// while the previous one's connections still wind down.
			if _, err := h.runWrk(script, "http://"+addr, time.Second, nil); err != nil {
				return err
			}
			var s sample
			var err error
			if srv.g == nil {
				s, err = h.measure(h.nginxAddr, 0, script, nil, func() time.Duration { return cpuTree(h.nginx.pid()) })
			} else {
				s, err = h.measureGateway(srv.g, spec{script: script, routes: []string{"product_page"}}, nil)
			}
			if err != nil {
				return err
			}
			s.Server = srv.name
			h.add(name, round, s)
		}
		return nil
	}
}

// wrkOnly runs one wrk scenario against the main gateway.
func wrkOnly(base spec) func(*harness, string, int) error {
	return func(h *harness, name string, round int) error {
		sp := base // a copy: every round mints its own users
		env := map[string]string{"FG_PATH": sp.path}
		if sp.script == "" {
			sp.script = "users.lua"
			act := sp.activity
			if act == "" {
				act = "big"
			}
			n := sp.users
			switch {
			case sp.storm:
				n = int(h.duration/time.Second) * h.stormRate
			case n < 0:
				n = h.soldUsers
			}
			file, err := h.writeUsers(fmt.Sprintf("%s-r%d", name, round), fmt.Sprintf("%s-r%d-", name, round), n, act, sp.kinds...)
			if err != nil {
				return err
			}
			env["FG_USERS"] = file
			if sp.cycle {
				env["FG_CYCLE"] = "1"
			}
		}
		s, err := h.measureGateway(h.main, sp, env)
		if err != nil {
			return err
		}
		s.Server = "flashgate"
		h.add(name, round, s)
		return nil
	}
}

// measureGateway runs sp against the main gateway and adds what the
// gateway's metrics, Redis and the backend saw meanwhile.
func (h *harness) measureGateway(g *gw, sp spec, env map[string]string) (sample, error) {
	before, err := scrape(g.admin)
	if err != nil {
		return sample{}, err
	}
	var ob orderCount
	if sp.orders {
		if ob, err = h.orders(); err != nil {
			return sample{}, err
		}
	}
	var b0 time.Duration
	if sp.orders {
		b0 = cpuOf(h.backend.pid())
	}
	s, err := h.measure(g.addr, h.redis.pid(), sp.script, env, func() time.Duration { return cpuOf(g.p.pid()) })
	if err != nil {
		return s, err
	}
	if sp.orders && s.Requests > 0 {
		s.BackendCPU = float64((cpuOf(h.backend.pid()) - b0).Microseconds()) / float64(s.Requests)
	}
	after, err := scrape(g.admin)
	if err != nil {
		return s, err
	}
	s.Reasons = reasons(before, after, sp.routes...)
	for _, r := range sp.routes {
		s.Admitted += int64(after[r+" admitted"] - before[r+" admitted"])
	}
	if sp.orders {
		// Orders are created before the gateway answers 200 (sync
		// forwarding), so they are all in once wrk is done.
		oa, err := h.orders()
		if err != nil {
			return s, err
		}
		s.Orders, s.RepeatUsers = oa.Orders-ob.Orders, oa.Repeats-ob.Repeats
		if s.Orders != s.Admitted || s.RepeatUsers != 0 {
			s.Check = fmt.Sprintf("FAIL: %d admitted, %d orders, %d repeat users", s.Admitted, s.Orders, s.RepeatUsers)
		} else {
			s.Check = fmt.Sprintf("ok: orders == admitted (%d), no user twice", s.Orders)
		}
	}
	return s, nil
}

// measure runs wrk on addr and the CPU the server (and Redis) used.
func (h *harness) measure(addr string, redisPid int, script string, env map[string]string, serverCPU func() time.Duration) (sample, error) {
	c0 := serverCPU()
	var r0 time.Duration
	if redisPid > 0 {
		r0 = cpuOf(redisPid)
	}
	w, err := h.runWrk(script, "http://"+addr, h.duration, env)
	if err != nil {
		return sample{}, err
	}
	s := sample{RPS: w.rps(), P50Us: w.P50Us, P99Us: w.P99Us, P999Us: w.P999Us, Requests: w.Requests,
		Errors: w.Errors, Non2xx: w.Non2xx, Exhausted: w.Exhausted > 0}
	if w.Requests > 0 {
		s.WrkCPUUs = float64(w.CPU.Microseconds()) / float64(w.Requests)
		s.ServerCPUUs = float64((serverCPU() - c0).Microseconds()) / float64(w.Requests)
		if redisPid > 0 {
			s.RedisCPUUs = float64((cpuOf(redisPid) - r0).Microseconds()) / float64(w.Requests)
		}
	}
	return s, nil
}

type orderCount struct {
	Orders, Repeats int64
}

// orders reads the backend's order and repeat-buyer counts.
func (h *harness) orders() (orderCount, error) { return h.backendOrders(h.backendAddr) }

// backendOrders reads the order and repeat-buyer counts of the demo
// backend at addr.
func (h *harness) backendOrders(addr string) (orderCount, error) {
	var oc orderCount
	for _, q := range []struct {
		path string
		into func(map[string]int64)
	}{
		{"/orders/count", func(m map[string]int64) { oc.Orders = m["orders"] }},
		{"/orders/users", func(m map[string]int64) { oc.Repeats = m["repeat_users"] }},
	} {
		code, body, err := fasthttp.GetTimeout(nil, "http://"+addr+q.path, 5*time.Second)
		if err != nil || code != 200 {
			return oc, fmt.Errorf("backend %s: %d %v", q.path, code, err)
		}
		m := map[string]int64{}
		if err := json.Unmarshal(body, &m); err != nil {
			return oc, fmt.Errorf("backend %s: %v", q.path, err)
		}
		q.into(m)
	}
	return oc, nil
}
