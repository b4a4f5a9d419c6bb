package gateway

import (
	"encoding/json"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/internal/demobackend"
	"github.com/flashgate/flashgate/internal/userid"
	"github.com/flashgate/flashgate/stock"
)

// TestAdminPaid drives the paid call over loopback HTTP against a memory
// store whose clock the test moves: a paid order stays sold, paying twice
// is 200 both times, an unpaid one comes back at the deadline and a late
// payment is 409 released_unpaid; the stock answer and the metrics show
// held, paid and released_unpaid.
func TestAdminPaid(t *testing.T) {
	var now atomic.Int64
	now.Store(time.Date(2026, 11, 11, 20, 0, 0, 0, time.UTC).UnixNano())
	st := stock.NewMemoryClock(func() time.Time { return time.Unix(0, now.Load()) })
	_, addr, _ := startBackend(t, demobackend.Options{})
	yaml := strings.Replace(adminYAML(addr), "{id: phone-sale, product: phone-x, stock: 5, shards: 1}",
		"{id: phone-sale, product: phone-x, stock: 5, shards: 1, pay_within: 15m}", 1)
	ts := newTestServer(t, yaml, Deps{Stock: st, AutoWarm: true})
	ad, err := NewAdmin(conf.Admin{Listen: "127.0.0.1:0", Token: steerToken}, ts.Server, ts.deps, func() (Report, error) { return Report{}, nil })
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = ad.Serve(ln) }()
	t.Cleanup(func() { _ = ad.srv.Shutdown() })
	base := "http://" + ln.Addr().String()
	client := &fasthttp.Client{ReadTimeout: 5 * time.Second}
	get := func(method, path string) (int, []byte) {
		t.Helper()
		req, resp := fasthttp.AcquireRequest(), new(fasthttp.Response)
		defer fasthttp.ReleaseRequest(req)
		req.Header.SetMethod(method)
		req.SetRequestURI(base + path)
		req.Header.Set("Authorization", "Bearer "+steerToken)
		if err := client.DoTimeout(req, resp, 5*time.Second); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		return resp.StatusCode(), resp.Body()
	}
	call := func(method, path string) (int, map[string]any) {
		t.Helper()
		code, body := get(method, path)
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("%s %s: %q: %v", method, path, body, err)
		}
		return code, m
	}

	var keys []string
	for _, u := range []string{"ann", "bob"} {
		resp := ts.do(t, "POST", "/buy/phone-sale", "X-User-Id", u)
		if resp.StatusCode() != 201 {
			t.Fatalf("buy %s: %d %s", u, resp.StatusCode(), resp.Body())
		}
		d, err := st.Counts(bgCtx(), "phone-sale")
		if err != nil || d.Held != int64(len(keys)+1) {
			t.Fatalf("counts after buying: %+v, %v", d, err)
		}
		keys = append(keys, "phone-sale:"+u+":"+strconv.FormatInt(1<<32|1, 10))
	}
	paid := func(key string) (int, map[string]any) {
		return call("POST", "/admin/activities/phone-sale/orders/"+key+"/paid")
	}
	if code, m := paid(keys[0]); code != 200 || m["status"] != "paid" || m["paid"] != true || m["user"] != "ann" {
		t.Fatalf("paid: %d %v", code, m)
	}
	if code, m := paid(keys[0]); code != 200 || m["status"] != "already_paid" {
		t.Fatalf("paid again: %d %v", code, m)
	}
	// The key percent-encoded, as encodeURIComponent writes it.
	if code, m := paid(strings.ReplaceAll(keys[0], ":", "%3A")); code != 200 || m["status"] != "already_paid" {
		t.Fatalf("paid with the key percent-encoded: %d %v", code, m)
	}
	if code, m := call("GET", "/admin/activities/phone-sale/stock"); code != 200 ||
		m["held"] != 1.0 || m["paid"] != 1.0 || m["released_unpaid"] != 0.0 || m["sold"] != 2.0 {
		t.Fatalf("stock: %d %v", code, m)
	}
	now.Add(int64(15 * time.Minute))
	if _, err := st.Sweep(bgCtx()); err != nil {
		t.Fatal(err)
	}
	if code, m := paid(keys[1]); code != 409 || m["error"] != "released_unpaid" {
		t.Fatalf("late paid: %d %v", code, m)
	}
	if code, m := call("GET", "/admin/activities/phone-sale/stock"); code != 200 ||
		m["held"] != 0.0 || m["paid"] != 1.0 || m["released_unpaid"] != 1.0 || m["sold"] != 1.0 || m["left"] != 4.0 {
		t.Fatalf("stock after the deadline: %d %v", code, m)
	}
	_, body := get("GET", "/metrics")
	metrics := string(body)
	for _, want := range []string{
		`flashgate_activity_units_held{activity="phone-sale"} 0`,
		`flashgate_activity_units_paid{activity="phone-sale"} 1`,
		`flashgate_activity_units_released_unpaid{activity="phone-sale"} 1`,
	} {
		if !strings.Contains(metrics, want+"\n") {
			t.Errorf("metrics lack %q", want)
		}
	}
	// bob's allowance is free again; ann's paid unit still counts.
	if resp := ts.do(t, "POST", "/buy/phone-sale", "X-User-Id", "bob"); resp.StatusCode() != 201 {
		t.Fatalf("bob again: %d %s", resp.StatusCode(), resp.Body())
	}
}

// FuzzParseOrderKey: whatever key the backend sends, parseOrderKey either
// refuses it or returns a valid user and a positive seq that put back
// together give the key itself; nothing panics.
func FuzzParseOrderKey(f *testing.F) {
	for _, s := range []string{"sale:ann:4294967297", "sale:a:b:c:1", "sale:ann", "sale::1", "other:ann:1", "sale:ann:0",
		"sale:ann:-1", "sale:ann:01", "sale:ann:99999999999999999999", ":::", "", "sale:a b:1", "sale:ann:1:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		user, seq, err := parseOrderKey(key, "sale")
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an empty error message")
			}
			return
		}
		if !userid.Valid(user) || seq <= 0 || !strings.HasPrefix(key, "sale:"+user+":") {
			t.Fatalf("parseOrderKey(%q) = %q, %d", key, user, seq)
		}
		// One order, one key: what is accepted is what the gateway writes.
		if again := "sale:" + user + ":" + strconv.FormatInt(seq, 10); again != key {
			t.Fatalf("%q accepted, but the order's key is %q", key, again)
		}
	})
}
