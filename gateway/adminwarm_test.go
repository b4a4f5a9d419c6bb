package gateway

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flashgate/flashgate/internal/redistest"
	"github.com/flashgate/flashgate/stock"
)

// TestAdminWarmWhileAnotherRuns: while another warm of the activity holds
// its lease (another instance, another operator), the admin warm answers
// 409 warm_running with a Retry-After at once and changes nothing; once
// the lease is gone it warms.
func TestAdminWarmWhileAnotherRuns(t *testing.T) {
	srv := redistest.Start(t)
	c := redistest.Client(t, srv.Addr())
	st, err := stock.NewRedis(stock.RedisOptions{Client: c, Prefix: "fg:", Timeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	ts := newTestServer(t, numbersYAML, Deps{Redis: c, Stock: st})
	ac := newAdminClient(t, ts, ts.deps, nil)
	lease := "{fg:phone-sale:meta}:warm" // warmlease.go's key for activity phone-sale
	if err := c.Do(bgCtx(), c.B().Set().Key(lease).Value("another-warm").Px(20*time.Second).Build()).Error(); err != nil {
		t.Fatal(err)
	}
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod("POST")
	req.SetRequestURI("http://admin.test/admin/activities/phone-sale/warm")
	req.Header.Set("Authorization", "Bearer "+adminToken)
	start := time.Now()
	if err := ac.c.DoTimeout(req, resp, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	var body struct{ Error, Message string }
	_ = json.Unmarshal(resp.Body(), &body)
	retry, _ := strconv.Atoi(string(resp.Header.Peek("Retry-After")))
	if resp.StatusCode() != 409 || body.Error != "warm_running" || retry < 1 || retry > 20 {
		t.Fatalf("warm during another: %d %s, Retry-After %q", resp.StatusCode(), resp.Body(), resp.Header.Peek("Retry-After"))
	}
	t.Logf("answered in %v: %s (Retry-After %d)", took, body.Message, retry)
	if _, err := st.Counts(bgCtx(), "phone-sale"); err != stock.ErrNotLoaded {
		t.Fatalf("counts after the refused warm: %v, want not loaded", err)
	}
	if err := c.Do(bgCtx(), c.B().Del().Key(lease).Build()).Error(); err != nil {
		t.Fatal(err)
	}
	if code := ac.call(t, "POST", "/admin/activities/phone-sale/warm", nil); code != 200 {
		t.Fatalf("warm once the other ended: %d", code)
	}
}
