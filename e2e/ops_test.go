package e2e

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/flashgate/flashgate/internal/redistest"
)

const opsToken = "e2e-admin-token-0123456789"

// opsGateway is one gateway process with its admin port, selling "sale"
// from Redis.
type opsGateway struct{ cfg, addr, admin string }

func startOps(t *testing.T, rs *redistest.Server, be string, stock int, warmFirst bool) opsGateway {
	t.Helper()
	g := opsGateway{addr: freeAddr(t), admin: freeAddr(t)}
	extra := redisExtra([]string{rs.Addr()}) + fmt.Sprintf("\nadmin: {listen: %q, token: %q}", g.admin, opsToken)
	g.cfg = writeFile(t, "gw.yaml", saleConfig(g.addr, be, extra, stock))
	if warmFirst {
		if out := warm(t, g.cfg); !strings.Contains(out, "[1/1] warmed sale: stock="+strconv.Itoa(stock)) {
			t.Fatalf("first warm: %s", out)
		}
	}
	gateway(t, g.cfg, g.addr)
	return g
}

// cli runs a flashgate command and returns its exit code and output.
func cli(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(bin.gateway, args...)
	cmd.Env = append(os.Environ(), "FLASHGATE_ADMIN_TOKEN="+opsToken)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, out.String(), errOut.String()
}

// scrape reads the admin /metrics of g as series -> value.
func scrape(t *testing.T, g opsGateway) map[string]float64 {
	t.Helper()
	code, body, _ := call(t, "GET", "http://"+g.admin+"/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	m := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		m[line[:i]] = v
	}
	return m
}

func paused(t *testing.T, g opsGateway) bool {
	t.Helper()
	code, out, errOut := cli(t, "admin", "--addr", g.admin, "activities")
	if code != 0 {
		t.Fatalf("admin activities: %d %s", code, errOut)
	}
	return strings.Contains(out, `"paused":true`)
}

// TestScriptedSale drives a sale over two gateway processes on one Redis
// with the CLI an operator would use (warm, health, admin pause/resume),
// then checks the metrics of each instance against exactly what was done.
func TestScriptedSale(t *testing.T) {
	rs := redistest.Start(t)
	be := backend(t)
	g1 := startOps(t, rs, be, 4, true)
	g2 := startOps(t, rs, be, 4, false)

	if code, out, _ := cli(t, "warm", "--config", g1.cfg); code != 0 || !strings.Contains(out, "[1/1] sale: already loaded, nothing to do") {
		t.Fatalf("repeated warm: %d %q", code, out)
	}
	if code, out, errOut := cli(t, "health", "--config", g1.cfg); code != 0 || !strings.HasPrefix(out, "healthy: http://"+g1.addr+"/healthz") {
		t.Fatalf("health: %d %q %q", code, out, errOut)
	}

	buy := func(g opsGateway, user string, want int, reason string) {
		t.Helper()
		code, body, h := call(t, "POST", "http://"+g.addr+"/buy/sale", "X-User-Id", user, "Accept", "application/json")
		if code != want || (reason != "" && string(h.Peek("X-Flashgate-Reason")) != reason) {
			t.Fatalf("%s buys on %s: %d %s, want %d %s", user, g.addr, code, body, want, reason)
		}
	}
	buy(g1, "u1", 201, "")
	buy(g1, "u2", 201, "")
	buy(g1, "u3", 201, "")
	buy(g1, "u1", 409, "already_purchased")

	// The emergency brake, pulled on one instance, reaches the other.
	if code, out, errOut := cli(t, "admin", "--config", g1.cfg, "pause", "sale"); code != 0 || !strings.Contains(out, `"paused":true`) {
		t.Fatalf("admin pause: %d %q %q", code, out, errOut)
	}
	waitFor(t, func() bool { return paused(t, g2) })
	buy(g2, "u4", 503, "paused")
	if code, _, errOut := cli(t, "admin", "--addr", g2.admin, "resume", "sale"); code != 0 {
		t.Fatalf("admin resume: %d %q", code, errOut)
	}
	waitFor(t, func() bool { return !paused(t, g1) })
	buy(g1, "u4", 201, "")
	buy(g2, "u5", 410, "sold_out")

	m1, m2 := scrape(t, g1), scrape(t, g2)
	want := []struct {
		m      map[string]float64
		series string
		v      float64
	}{
		{m1, `flashgate_activity_admitted_total{activity="sale"}`, 4},
		{m1, `flashgate_activity_rejections_total{activity="sale",reason="already_purchased"}`, 1},
		{m1, `flashgate_activity_rejections_total{activity="sale",reason="paused"}`, 0},
		{m1, `flashgate_activity_stock_left{activity="sale"}`, 0},
		{m1, `flashgate_activity_units_sold{activity="sale"}`, 4},
		{m1, `flashgate_activity_paused{activity="sale"}`, 0},
		{m1, `flashgate_activity_open{activity="sale"}`, 1},
		{m1, `flashgate_requests_total{outcome="admitted",route="buy"}`, 4},
		{m1, `flashgate_filter_rejections_total{filter="stock",reason="already_purchased",route="buy"}`, 1},
		{m1, `flashgate_upstream_requests_total{result="2xx",upstream="orders"}`, 4},
		{m1, `flashgate_breaker_state{breaker="upstream:orders"}`, 0},
		{m2, `flashgate_activity_admitted_total{activity="sale"}`, 0},
		{m2, `flashgate_activity_rejections_total{activity="sale",reason="paused"}`, 1},
		{m2, `flashgate_activity_rejections_total{activity="sale",reason="sold_out"}`, 1},
		{m2, `flashgate_filter_rejections_total{filter="pause",reason="paused",route="buy"}`, 1},
		{m2, `flashgate_filter_rejections_total{filter="stock",reason="sold_out",route="buy"}`, 1},
		{m2, `flashgate_requests_total{outcome="rejected",route="buy"}`, 2},
		{m2, `flashgate_activity_units_sold{activity="sale"}`, 4},
	}
	for _, w := range want {
		got, ok := w.m[w.series]
		if !ok || got != w.v {
			t.Errorf("%s = %v (present %v), want %v", w.series, got, ok, w.v)
		}
	}
	// Every purchase's stock decision is a script call, timed by operation.
	if n := m1[`flashgate_redis_duration_seconds_count{op="evalsha"}`]; n < 5 {
		t.Errorf("evalsha calls timed on g1: %v, want >= 5", n)
	}
	if o := orders(t, be); o != `{"orders":4,"duplicates":0}` {
		t.Errorf("backend: %s", o)
	}

	// Warming the sold-out sale with another stock is refused and names
	// the flag that would reset it.
	other := writeFile(t, "other.yaml", strings.Replace(readFile(t, g1.cfg), "stock: 4", "stock: 9", 1))
	code, _, errOut := cli(t, "warm", "--config", other)
	if code != 1 || !strings.Contains(errOut, "--force resets its stock and ledgers") {
		t.Fatalf("warm of another spec: %d %q", code, errOut)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
