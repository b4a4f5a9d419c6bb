package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/valyala/fasthttp"
)

// The peak-shaving sale: a backend that takes shaveLatency per order with
// shaveWorkers at once (200 orders/s), sold by the same purchase route
// in sync mode and in async mode with queue.rate 200, over two gateways
// on one Redis.
const (
	shaveLatency     = 50 * time.Millisecond
	shaveWorkers     = 10
	shaveCapacity    = int(shaveWorkers * time.Second / shaveLatency) // orders/s the backend handles
	shaveQueueRate   = 200
	shaveMaxInflight = 16   // per instance
	shaveStock       = 2000 // what the backend can take in 10 s
	shaveInstances   = 2
	shavePoolConns   = 64 // the upstream's max_conns per instance (sync mode's bound)
	shaveDrainFor    = 30 * time.Second
)

// shaveMode is one side of the comparison.
type shaveMode struct{ name, route string }

var shaveModes = []shaveMode{{"sync", "shave_sync"}, {"async", "shave_async"}}

// shavingResult is one mode in one round.
type shavingResult struct {
	Round          int              `json:"round"`
	Mode           string           `json:"mode"`
	Activity       string           `json:"activity"`
	OfferedPerS    int              `json:"offered_per_s"`
	Requests       int64            `json:"requests"`
	Admitted       int64            `json:"admitted"` // 201 (sync) or 202 (async)
	Busy503        int64            `json:"busy_503"`
	SoldOut        int64            `json:"sold_out"`
	Other          map[string]int64 `json:"other,omitempty"`
	P99Ms          float64          `json:"p99_ms"`
	AdmittedP99Ms  float64          `json:"admitted_p99_ms"`
	Busy503P99Ms   float64          `json:"busy_503_p99_ms"`
	Share503       float64          `json:"share_503"`
	PerSecond      []uint64         `json:"backend_per_second"`
	PeakPerS       uint64           `json:"backend_peak_per_s"`
	PeakInflight   int              `json:"backend_peak_inflight"`
	Orders         int64            `json:"orders"`
	Sold           int64            `json:"sold"`
	DrainS         float64          `json:"drain_s"` // end of the load to the last order at the backend
	Bounds         string           `json:"bounds"`
	Invariants     string           `json:"invariants"`
	BackendCapPerS int              `json:"backend_capacity_per_s"`
}

// shaving is the scenario's own backend and gateways, started once.
type shaving struct {
	backend string
	gws     []*gw
}

func shaveActivity(mode string, round int) string { return fmt.Sprintf("shave_%s_r%d", mode, round) }

// shaveConfig turns a gateway's config into the shaving sale's: its own
// upstream, one activity per mode and round, and the two routes.
func (h *harness) shaveConfig(backend string) func(map[string]any) {
	return func(doc map[string]any) {
		doc["server"].(map[string]any)["max_inflight"] = 100000
		doc["upstreams"] = []any{map[string]any{"name": "slow", "addrs": []string{backend}, "max_conns": shavePoolConns,
			"connect_timeout": "200ms", "timeout": "2s"}}
		var acts []any
		lists := map[string][]string{}
		for _, m := range shaveModes {
			for r := 1; r <= h.rounds; r++ {
				id := shaveActivity(m.name, r)
				acts = append(acts, map[string]any{"id": id, "product": "phone-x", "stock": shaveStock, "shards": 8, "per_user": 1})
				lists[m.name] = append(lists[m.name], id)
			}
		}
		doc["activities"] = acts
		var chain []any
		for _, r := range doc["routes"].([]any) {
			if r.(map[string]any)["name"] == "buy_proxy" {
				chain = r.(map[string]any)["filters"].([]any)
			}
		}
		route := func(m shaveMode) map[string]any {
			action := map[string]any{"type": "proxy", "upstream": "slow", "rewrite": "/orders"}
			if m.name == "async" {
				action["mode"] = "async"
				action["queue"] = map[string]any{"rate": shaveQueueRate, "max_inflight": shaveMaxInflight}
			}
			return map[string]any{"name": m.route, "method": "POST", "path": "/bench/shave/" + m.name + "/{activity}",
				"activities": lists[m.name], "filters": chain, "action": action}
		}
		doc["routes"] = []any{route(shaveModes[0]), route(shaveModes[1])}
	}
}

// startShaving starts the slow backend and the two gateways, once.
func (h *harness) startShaving() error {
	if h.shave != nil {
		return nil
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	p, err := start(h.tmp, "backend-slow", nil, h.demoBackend, "-listen", addr,
		"-latency", shaveLatency.String(), "-workers", strconv.Itoa(shaveWorkers))
	if err != nil {
		return err
	}
	h.procs = append(h.procs, p)
	if err := waitHTTP("http://"+addr+"/healthz", p); err != nil {
		return err
	}
	s := &shaving{backend: addr}
	for i := 0; i < shaveInstances; i++ {
		warm := "-"
		if i == 0 {
			warm = "" // every activity of the shaving config, nothing else
		}
		g, err := h.startGatewayEdit(fmt.Sprintf("shave-%d", i), warm, time.Now().Add(-time.Hour), nil, nil, h.shaveConfig(addr))
		if err != nil {
			return err
		}
		s.gws = append(s.gws, g)
	}
	h.shave = s
	return nil
}

// runShaving measures both modes, in alternating order from round to round.
func runShaving(h *harness, _ string, round int) error {
	if err := h.startShaving(); err != nil {
		return err
	}
	modes := append([]shaveMode(nil), shaveModes...)
	if round%2 == 0 {
		modes[0], modes[1] = modes[1], modes[0]
	}
	for _, m := range modes {
		res, err := h.shaveOnce(m, round)
		if err != nil {
			return fmt.Errorf("%s: %w", m.name, err)
		}
		h.res.Shavings = append(h.res.Shavings, res)
	}
	return nil
}

// shaveAnswer is one client's tally.
type shaveAnswer struct {
	all, admitted, busy []int64
	soldOut             int64
	other               map[string]int64
}

// shaveOnce offers shaving-rate purchases a second of distinct users
// (open loop: each is sent on its tick whatever the earlier ones are
// doing) for shaving-duration, spread over the gateways, then waits for
// the backend to have every sold unit's order.
func (h *harness) shaveOnce(m shaveMode, round int) (shavingResult, error) {
	act := shaveActivity(m.name, round)
	res := shavingResult{Round: round, Mode: m.name, Activity: act, OfferedPerS: h.shaveRate, BackendCapPerS: shaveCapacity, Other: map[string]int64{}}
	n := int(h.shaveDuration/time.Second) * h.shaveRate
	issued := time.Now().Add(-2 * time.Second) // older than the chain's min_age
	type buyerReq struct{ user, token []byte }
	buyers := make([]buyerReq, n)
	for i := range buyers {
		u := []byte(fmt.Sprintf("sh-%s-r%d-%d", m.name, round, i))
		tok, err := h.mint.Append(nil, issued, u, []byte(act))
		if err != nil {
			return res, err
		}
		buyers[i] = buyerReq{u, tok}
	}
	clients := make([]*fasthttp.HostClient, len(h.shave.gws))
	for i, g := range h.shave.gws {
		clients[i] = &fasthttp.HostClient{Addr: g.addr, MaxConns: 4096, ReadTimeout: 10 * time.Second,
			WriteTimeout: 10 * time.Second, MaxIdleConnDuration: time.Minute}
	}
	ob, err := h.backendOrders(h.shave.backend)
	if err != nil {
		return res, err
	}
	if code, _, err := fasthttpPost("http://" + h.shave.backend + "/orders/load"); err != nil || code != 204 {
		return res, fmt.Errorf("reset backend load: %d %v", code, err)
	}

	var mu sync.Mutex
	tally := shaveAnswer{other: map[string]int64{}}
	var wg sync.WaitGroup
	var skipped atomic.Int64
	sem := make(chan struct{}, 8192) // bounds the goroutines of a stuck gateway
	path := "/bench/shave/" + m.name + "/" + act
	start := time.Now()
	for i := range buyers {
		time.Sleep(time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(h.shaveRate))))
		select {
		case sem <- struct{}{}:
		default:
			skipped.Add(1)
			continue
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			c := clients[i%len(clients)]
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			req.Header.SetMethod("POST")
			req.SetRequestURI("http://" + c.Addr + path)
			req.Header.Set("Accept", "application/json")
			req.Header.SetBytesV("X-User-Id", buyers[i].user)
			req.Header.SetBytesV("X-Order-Token", buyers[i].token)
			t0 := time.Now()
			err := c.Do(req, resp)
			lat := int64(time.Since(t0) / time.Microsecond)
			code, reason := resp.StatusCode(), string(resp.Header.Peek("X-Flashgate-Reason"))
			mu.Lock()
			defer mu.Unlock()
			tally.all = append(tally.all, lat)
			switch {
			case err != nil:
				tally.other["error: "+err.Error()]++
			case code/100 == 2:
				tally.admitted = append(tally.admitted, lat)
			case code == 503:
				tally.busy = append(tally.busy, lat)
				tally.other["503 "+reason]++
			case reason == "sold_out":
				tally.soldOut++
			default:
				tally.other[strconv.Itoa(code)+" "+reason]++
			}
		}(i)
	}
	wg.Wait()
	loadEnd := time.Now()
	if s := skipped.Load(); s > 0 {
		res.Other["not sent (8192 in flight)"] = s
	}
	res.Requests = int64(len(tally.all))
	res.Admitted, res.Busy503, res.SoldOut = int64(len(tally.admitted)), int64(len(tally.busy)), tally.soldOut
	for k, v := range tally.other {
		if k[:3] != "503" {
			res.Other[k] = v
		}
	}
	res.P99Ms, res.AdmittedP99Ms, res.Busy503P99Ms = pct(tally.all, 99), pct(tally.admitted, 99), pct(tally.busy, 99)
	if res.Requests > 0 {
		res.Share503 = float64(res.Busy503) / float64(res.Requests)
	}

	// Units sold, then the backend's orders: async ones arrive at the
	// queue's pace, so wait until they are all in (bounded).
	sold, err := h.soldOf(h.shave.gws[0], act)
	if err != nil {
		return res, err
	}
	res.Sold = sold
	last := loadEnd
	for deadline := time.Now().Add(shaveDrainFor); ; time.Sleep(100 * time.Millisecond) {
		oc, err := h.backendOrders(h.shave.backend)
		if err != nil {
			return res, err
		}
		if oc.Orders-ob.Orders != res.Orders {
			res.Orders, last = oc.Orders-ob.Orders, time.Now()
		}
		if res.Orders >= sold || time.Now().After(deadline) {
			break
		}
	}
	res.DrainS = last.Sub(loadEnd).Seconds()
	if res.DrainS < 0 {
		res.DrainS = 0
	}
	if res.PerSecond, res.PeakInflight, err = backendLoad(h.shave.backend); err != nil {
		return res, err
	}
	for _, v := range res.PerSecond {
		res.PeakPerS = max(res.PeakPerS, v)
	}
	if m.name == "async" {
		bound := shaveMaxInflight * shaveInstances
		ok := res.PeakPerS <= shaveQueueRate && res.PeakInflight <= bound
		res.Bounds = fmt.Sprintf("%s: peak %d/s <= queue.rate %d, peak %d in flight <= max_inflight %d × %d instances = %d",
			okFail(ok), res.PeakPerS, shaveQueueRate, res.PeakInflight, shaveMaxInflight, shaveInstances, bound)
	} else {
		res.Bounds = fmt.Sprintf("(no bound: peak %d in flight <= upstream max_conns %d × %d instances)", res.PeakInflight, shavePoolConns, shaveInstances)
	}
	if res.Orders == res.Sold {
		res.Invariants = fmt.Sprintf("ok: orders == sold == %d", res.Sold)
	} else {
		res.Invariants = fmt.Sprintf("FAIL: %d orders at the backend, %d units sold", res.Orders, res.Sold)
	}
	return res, nil
}

func okFail(ok bool) string {
	if ok {
		return "ok"
	}
	return "FAIL"
}

func fasthttpPost(url string) (int, []byte, error) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod("POST")
	req.SetRequestURI(url)
	err := fasthttp.DoTimeout(req, resp, 5*time.Second)
	return resp.StatusCode(), append([]byte(nil), resp.Body()...), err
}

// backendLoad reads the demo backend's GET /orders/load.
func backendLoad(addr string) ([]uint64, int, error) {
	code, body, err := fasthttp.GetTimeout(nil, "http://"+addr+"/orders/load", 5*time.Second)
	if err != nil || code != 200 {
		return nil, 0, fmt.Errorf("backend /orders/load: %d %v", code, err)
	}
	var l struct {
		Peak int      `json:"peak_inflight"`
		Per  []uint64 `json:"per_second"`
	}
	err = json.Unmarshal(body, &l)
	return l.Per, l.Peak, err
}

// soldOf is the admin API's "sold" of an activity.
func (h *harness) soldOf(g *gw, act string) (int64, error) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI("http://" + g.admin + "/admin/activities/" + act + "/stock")
	req.Header.Set("Authorization", "Bearer "+adminToken)
	if err := fasthttp.DoTimeout(req, resp, 5*time.Second); err != nil || resp.StatusCode() != 200 {
		return 0, fmt.Errorf("stock of %s: %d %v", act, resp.StatusCode(), err)
	}
	var st struct {
		Sold int64 `json:"sold"`
	}
	return st.Sold, json.Unmarshal(resp.Body(), &st)
}

func (h *harness) printShaving(w io.Writer) {
	if len(h.res.Shavings) == 0 {
		return
	}
	fmt.Fprintf(w, "\npeak shaving: backend %s per order, %d workers (%d orders/s); %d units per sale; %d instances on one Redis; async queue.rate %d, max_inflight %d per instance\n",
		shaveLatency, shaveWorkers, shaveCapacity, shaveStock, shaveInstances, shaveQueueRate, shaveMaxInflight)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "round\tmode\toffered/s\tbackend peak/s\tbackend peak in flight\tclient p99 ms\tadmitted (p99 ms)\t503 share (p99 ms)\tsold out\torders / sold\tdrain s\tother\tbounds\tinvariants")
	for _, s := range h.res.Shavings {
		fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%d\t%.1f\t%d (%.1f)\t%.1f%% (%.1f)\t%d\t%d / %d\t%.1f\t%s\t%s\t%s\n", s.Round, s.Mode, s.OfferedPerS,
			s.PeakPerS, s.PeakInflight, s.P99Ms, s.Admitted, s.AdmittedP99Ms, 100*s.Share503, s.Busy503P99Ms, s.SoldOut,
			s.Orders, s.Sold, s.DrainS, formatReasons(s.Other), s.Bounds, s.Invariants)
	}
	tw.Flush()
	fmt.Fprintln(w, "backend orders per 1 s bucket:")
	for _, s := range h.res.Shavings {
		fmt.Fprintf(w, "  round %d %-5s %v\n", s.Round, s.Mode, s.PerSecond)
	}
}
