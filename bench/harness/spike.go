package main

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/valyala/fasthttp"
)

// The flash sale of the spike: the "sale" activity of bench.yaml.
const (
	saleStock = 10000
	countdown = 4 * time.Second // from the tokens' minting to the opening
	pollers   = 32              // status pollers, each every pollEvery
	pollEvery = 100 * time.Millisecond
)

// spikeResult is one flash sale: a countdown with pollers, the opening
// spike of distinct users spread over two gateways on one Redis, and the
// sold-out tail, with the invariants checked at the backend.
type spikeResult struct {
	Round         int              `json:"round"`
	Users         int              `json:"users"`
	Gateways      int              `json:"gateways"`
	Conns         int              `json:"buyer_conns"`
	Stock         int              `json:"stock"`
	ArrivalS      float64          `json:"arrival_s"` // opening to the last user's request
	UsersPerS     float64          `json:"users_per_s"`
	SellOutMs     float64          `json:"sell_out_ms"` // opening to the last admitted answer
	Admitted      int64            `json:"admitted"`
	SoldOut       int64            `json:"sold_out"`
	Other         map[string]int64 `json:"other,omitempty"`
	AdmittedP50Ms float64          `json:"admitted_p50_ms"`
	AdmittedP99Ms float64          `json:"admitted_p99_ms"`
	SoldOutP50Ms  float64          `json:"sold_out_p50_ms"`
	SoldOutP99Ms  float64          `json:"sold_out_p99_ms"`
	Polls         int64            `json:"polls"`
	PollP99Ms     float64          `json:"poll_p99_ms"`
	Orders        int64            `json:"orders"`
	RepeatUsers   int64            `json:"repeat_users"`
	GatewayCPUUs  float64          `json:"gateway_cpu_us_per_req"`
	RedisCPUUs    float64          `json:"redis_cpu_us_per_req"`
	Invariants    string           `json:"invariants"`
}

// buyer is one user of the spike with the token minted for them.
type buyer struct{ user, token []byte }

// runSpike is the flash-sale scenario, measured by a Go load generator
// rather than wrk: it needs what wrk's Lua cannot see, the latency of
// admitted and of sold-out answers apart and the moment the last unit
// went.
func runSpike(h *harness, _ string, round int) error {
	// Tokens are minted at the start of the countdown, as checkout pages
	// would fetch them: each is older than min_age at the opening.
	buyers := make([]buyer, h.spikeUsers)
	act := []byte("sale")
	minted := time.Now()
	for i := range buyers {
		u := []byte("fs-r" + strconv.Itoa(round) + "-" + strconv.Itoa(i))
		tok, err := h.mint.Append(nil, minted, u, act)
		if err != nil {
			return err
		}
		buyers[i] = buyer{u, tok}
	}
	opening := minted.Add(countdown)
	var gws []*gw
	for i, name := range []string{"sale-a", "sale-b"} {
		warm := "-"
		if i == 0 {
			warm = "sale" // a fresh 10,000 units; the second instance shares them
		}
		g, err := h.startGateway(fmt.Sprintf("%s-r%d", name, round), warm, opening, nil, nil)
		if err != nil {
			return err
		}
		gws = append(gws, g)
	}
	defer func() {
		for _, g := range gws {
			g.p.stop()
		}
	}()
	if time.Until(opening) < 500*time.Millisecond {
		return fmt.Errorf("gateways took too long to start: the countdown is over")
	}
	ob, err := h.orders()
	if err != nil {
		return err
	}
	clients := make([]*fasthttp.HostClient, len(gws))
	for i, g := range gws {
		clients[i] = &fasthttp.HostClient{Addr: g.addr, MaxConns: h.spikeConns, ReadTimeout: 10 * time.Second,
			WriteTimeout: 10 * time.Second, MaxIdleConnDuration: time.Minute}
	}

	// Pollers of the status JSON, from the countdown to the end.
	stopPolls := make(chan struct{})
	var pollLat []int64
	var pollMu sync.Mutex
	var pollWG sync.WaitGroup
	for p := 0; p < pollers; p++ {
		pollWG.Add(1)
		go func(p int) {
			defer pollWG.Done()
			c := clients[p%len(clients)]
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			req.SetRequestURI("http://" + c.Addr + "/api/activities/sale/status")
			var lat []int64
			tick := time.NewTicker(pollEvery)
			defer tick.Stop()
			for {
				select {
				case <-stopPolls:
					pollMu.Lock()
					pollLat = append(pollLat, lat...)
					pollMu.Unlock()
					return
				case <-tick.C:
				}
				t0 := time.Now()
				if err := c.Do(req, resp); err == nil && resp.StatusCode() == 200 {
					lat = append(lat, int64(time.Since(t0)/time.Microsecond))
				}
			}
		}(p)
	}

	var next atomic.Int64
	var lastAdmit, lastSend atomic.Int64 // ns since the opening
	type tally struct {
		admitted, soldOut []int64
		other             map[string]int64
	}
	tallies := make([]tally, h.spikeConns)
	cpu0 := cpuOf(gws[0].p.pid()) + cpuOf(gws[1].p.pid())
	r0 := cpuOf(h.redis.pid())
	var wg sync.WaitGroup
	time.Sleep(time.Until(opening))
	for w := 0; w < h.spikeConns; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			c := clients[w%len(clients)]
			t := &tallies[w]
			t.other = map[string]int64{}
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			req.Header.SetMethod("POST")
			req.SetRequestURI("http://" + c.Addr + "/bench/order/sale")
			req.Header.Set("Accept", "application/json")
			for {
				i := next.Add(1) - 1
				if i >= int64(len(buyers)) {
					return
				}
				req.Header.SetBytesV("X-User-Id", buyers[i].user)
				req.Header.SetBytesV("X-Order-Token", buyers[i].token)
				t0 := time.Now()
				maxInt(&lastSend, int64(t0.Sub(opening)))
				err := c.Do(req, resp)
				lat := int64(time.Since(t0) / time.Microsecond)
				switch {
				case err != nil:
					t.other["error: "+err.Error()]++
				case resp.StatusCode()/100 == 2: // the backend's 201 Created
					t.admitted = append(t.admitted, lat)
					maxInt(&lastAdmit, int64(time.Since(opening)))
				case string(resp.Header.Peek("X-Flashgate-Reason")) == "sold_out":
					t.soldOut = append(t.soldOut, lat)
				default:
					t.other[strconv.Itoa(resp.StatusCode())+" "+string(resp.Header.Peek("X-Flashgate-Reason"))]++
				}
			}
		}(w)
	}
	wg.Wait()
	done := time.Now()
	close(stopPolls)
	pollWG.Wait()
	cpu := cpuOf(gws[0].p.pid()) + cpuOf(gws[1].p.pid()) - cpu0
	rcpu := cpuOf(h.redis.pid()) - r0

	res := spikeResult{Round: round, Users: len(buyers), Gateways: len(gws), Conns: h.spikeConns, Stock: saleStock,
		ArrivalS: float64(lastSend.Load()) / 1e9, SellOutMs: float64(lastAdmit.Load()) / 1e6, Other: map[string]int64{}}
	var adm, sold []int64
	for _, t := range tallies {
		adm, sold = append(adm, t.admitted...), append(sold, t.soldOut...)
		for k, v := range t.other {
			res.Other[k] += v
		}
	}
	res.Admitted, res.SoldOut = int64(len(adm)), int64(len(sold))
	res.UsersPerS = float64(len(buyers)) / done.Sub(opening).Seconds()
	res.AdmittedP50Ms, res.AdmittedP99Ms = pct(adm, 50), pct(adm, 99)
	res.SoldOutP50Ms, res.SoldOutP99Ms = pct(sold, 50), pct(sold, 99)
	res.Polls, res.PollP99Ms = int64(len(pollLat)), pct(pollLat, 99)
	total := float64(len(buyers) + len(pollLat))
	res.GatewayCPUUs = float64(cpu.Microseconds()) / total
	res.RedisCPUUs = float64(rcpu.Microseconds()) / total
	oa, err := h.orders()
	if err != nil {
		return err
	}
	res.Orders, res.RepeatUsers = oa.Orders-ob.Orders, oa.Repeats-ob.Repeats
	switch {
	case res.Admitted != saleStock:
		res.Invariants = fmt.Sprintf("FAIL: sold %d of %d", res.Admitted, saleStock)
	case res.Orders != res.Admitted:
		res.Invariants = fmt.Sprintf("FAIL: %d orders for %d sold", res.Orders, res.Admitted)
	case res.RepeatUsers != 0:
		res.Invariants = fmt.Sprintf("FAIL: %d orders to a user who had one", res.RepeatUsers)
	default:
		res.Invariants = fmt.Sprintf("ok: sold == stock == orders == %d, no user twice", saleStock)
	}
	h.res.Spikes = append(h.res.Spikes, res)
	return nil
}

func maxInt(a *atomic.Int64, v int64) {
	for {
		cur := a.Load()
		if v <= cur || a.CompareAndSwap(cur, v) {
			return
		}
	}
}

// pct is the p-th percentile of latencies in µs, in ms.
func pct(us []int64, p float64) float64 {
	if len(us) == 0 {
		return 0
	}
	s := append([]int64(nil), us...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(float64(len(s))*p/100+0.5) - 1
	i = min(max(i, 0), len(s)-1)
	return float64(s[i]) / 1000
}

func (h *harness) printSpikes(w io.Writer) {
	if len(h.res.Spikes) == 0 {
		return
	}
	fmt.Fprintf(w, "\nflash sale: %d units, distinct users through 2 gateways on one Redis, proxied to the backend (each round)\n", saleStock)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "round\tusers\tarrival s\tusers/s\tsell-out ms\tadmitted p50/p99 ms\tsold-out p50/p99 ms\tpolls (p99 ms)\tCPU µs/req gw/Redis\tother answers\tinvariants")
	for _, s := range h.res.Spikes {
		fmt.Fprintf(tw, "%d\t%d\t%.2f\t%.0f\t%.0f\t%.2f / %.2f\t%.2f / %.2f\t%d (%.2f)\t%.1f / %.1f\t%s\t%s\n", s.Round, s.Users, s.ArrivalS, s.UsersPerS,
			s.SellOutMs, s.AdmittedP50Ms, s.AdmittedP99Ms, s.SoldOutP50Ms, s.SoldOutP99Ms, s.Polls, s.PollP99Ms,
			s.GatewayCPUUs, s.RedisCPUUs, formatReasons(s.Other), s.Invariants)
	}
	tw.Flush()
}
