package gateway

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flashgate/flashgate/internal/syncbuf"
)

// TestAdminAudit: every admin call that changes something leaves one log
// line (who paused a sale, and when); refused tokens leave one line per
// 10 s with the count held back, so guessing is on record but cannot grow
// the log; and the dashboard, whose buttons stop a sale, refuses framing.
func TestAdminAudit(t *testing.T) {
	var logs syncbuf.Buffer
	ts := newTestServer(t, numbersYAML, Deps{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	ac := newAdminClient(t, ts, ts.deps, nil)
	if code := ac.call(t, "POST", "/admin/activities/phone-sale/pause", nil); code != 200 {
		t.Fatalf("pause: %d", code)
	}
	if code := ac.call(t, "GET", "/admin/activities", nil); code != 200 {
		t.Fatalf("activities: %d", code)
	}
	do := func(path, token string) *fasthttp.Response {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		req.Header.SetMethod("POST")
		if strings.HasSuffix(path, "dashboard") {
			req.Header.SetMethod("GET")
		}
		req.SetRequestURI("http://admin.test" + path)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if err := ac.c.DoTimeout(req, resp, 5*time.Second); err != nil {
			t.Fatal(err)
		}
		return resp
	}
	for range 5 {
		if r := do("/admin/activities/phone-sale/resume", "wrong-token-0123456789"); r.StatusCode() != 401 {
			t.Fatalf("wrong token: %d", r.StatusCode())
		}
	}
	r := do("/dashboard", "")
	if csp := string(r.Header.Peek("Content-Security-Policy")); !strings.Contains(csp, "frame-ancestors 'none'") ||
		string(r.Header.Peek("X-Frame-Options")) != "DENY" {
		t.Errorf("dashboard framing headers: CSP %q, X-Frame-Options %q", csp, r.Header.Peek("X-Frame-Options"))
	}
	out := logs.String()
	if n := strings.Count(out, `msg="admin call"`); n != 1 || !strings.Contains(out, "path=/admin/activities/phone-sale/pause status=200") {
		t.Errorf("want one audit line, for the pause (GETs are not audited):\n%s", out)
	}
	if n := strings.Count(out, "admin call refused: no valid token"); n != 1 || !strings.Contains(out, "not_logged_since_last=0") {
		t.Errorf("want one line for five refused tokens:\n%s", out)
	}

	// A body over the admin limit is refused by fasthttp before any
	// handler runs: it is on record all the same, sampled.
	for range 2 {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		req.Header.SetMethod("POST")
		req.SetRequestURI("http://admin.test/admin/activities/phone-sale/reservations")
		req.Header.Set("Authorization", "Bearer "+steerToken)
		req.SetBody(make([]byte, adminMaxBody+1))
		if err := ac.c.DoTimeout(req, resp, 10*time.Second); err == nil && resp.StatusCode() != 413 {
			t.Errorf("oversized admin body: %d, want 413", resp.StatusCode())
		}
		fasthttp.ReleaseRequest(req)
		fasthttp.ReleaseResponse(resp)
	}
	out = logs.String()
	if n := strings.Count(out, "admin call refused before it was read"); n != 1 ||
		!strings.Contains(out, "status=413 reason=body_too_large") || !strings.Contains(out, "path=/admin/activities/phone-sale/reservations") {
		t.Errorf("want one sampled line for two oversized bodies:\n%s", out)
	}
}

// TestAdminRefusedEarlyHidesToken: a call refused before its header was
// read (431, headers over the read buffer) is logged without the bytes
// fasthttp's error quotes, the bearer token among them.
func TestAdminRefusedEarlyHidesToken(t *testing.T) {
	var logs syncbuf.Buffer
	ts := newTestServer(t, numbersYAML, Deps{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	ac := newAdminClient(t, ts, ts.deps, nil)
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod("POST")
	req.SetRequestURI("http://admin.test/admin/activities/phone-sale/pause")
	req.Header.Set("Authorization", "Bearer "+steerToken)
	req.Header.Set("X-Big", strings.Repeat("b", 16<<10))
	_ = ac.c.DoTimeout(req, resp, 5*time.Second)
	out := logs.String()
	if !strings.Contains(out, "admin call refused before it was read") {
		t.Fatalf("no line for the refused call:\n%s", out)
	}
	if strings.Contains(out, steerToken) {
		t.Fatalf("the admin token is in the log:\n%s", out)
	}
}
