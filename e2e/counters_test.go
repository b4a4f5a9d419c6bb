package e2e

import (
	"sort"
	"strings"
	"testing"
)

// documentedReasons are the reason codes README's filter sections list
// for each filter of the demo config's buy route, as configured there
// (identity with header and JWT, rate limits by scope, order_token
// without single_use).
var documentedReasons = map[string][]string{
	"identity": {"unauthenticated", "bad_user_id", "jwt_malformed", "jwt_bad_signature", "jwt_expired",
		"jwt_not_yet_valid", "jwt_bad_alg", "jwt_bad_claims"},
	"blacklist":   {"blacklisted"},
	"sale_window": {"not_started", "ended"},
	"hidden_path": {"not_found"},
	"order_token": {"token_missing", "token_malformed", "token_forged", "token_wrong_activity", "token_wrong_user",
		"token_too_young", "token_expired"},
	"stock": {"sold_out", "already_purchased", "login_required", "not_loaded"},
}

// TestRejectionCountersBeforeAnyRequest: every rejection counter the
// demo config can produce (route × filter × reason, and activity ×
// reason) is exported at zero before the first request, because the
// build resolves them; the rejections that then happen move those very
// series and create none.
func TestRejectionCountersBeforeAnyRequest(t *testing.T) {
	be := backend(t)
	cfg, addr, admin := demoConfig(t, be)
	gateway(t, cfg, addr) // waits on /healthz, which runs no route
	g := opsGateway{cfg: cfg, addr: addr, admin: admin}
	before := rejectionSeries(scrape(t, g))
	for s, v := range before {
		if v != 0 {
			t.Errorf("%s = %v before any request", s, v)
		}
		if strings.Contains(s, `reason=""`) {
			t.Errorf("a series without a reason: %s", s)
		}
	}
	want := []string{
		`flashgate_activity_rejections_total{activity="phone-sale",reason="paused"}`,
		`flashgate_activity_rejections_total{activity="phone-sale",reason="busy"}`,
		`flashgate_activity_rejections_total{activity="phone-sale",reason="other"}`,
		`flashgate_filter_rejections_total{filter="pause",reason="paused",route="buy"}`,
		`flashgate_filter_rejections_total{filter="rate_limit",reason="rate_limited_ip",route="sign_in"}`,
		`flashgate_filter_rejections_total{filter="rate_limit",reason="rate_limited_user",route="order_token"}`,
		`flashgate_filter_rejections_total{filter="identity",reason="unauthenticated",route="purchase_path"}`,
	}
	for _, scope := range []string{"global", "ip", "user", "item"} {
		want = append(want, `flashgate_filter_rejections_total{filter="rate_limit",reason="rate_limited_`+scope+`",route="buy"}`)
	}
	for filter, reasons := range documentedReasons {
		for _, r := range append(reasons, "busy", "other") {
			want = append(want, `flashgate_filter_rejections_total{filter="`+filter+`",reason="`+r+`",route="buy"}`)
		}
	}
	for _, r := range documentedReasons["stock"] {
		want = append(want, `flashgate_activity_rejections_total{activity="phone-sale",reason="`+r+`"}`)
	}
	t.Logf("%d rejection series before the first request", len(before))
	for _, s := range want {
		if _, ok := before[s]; !ok {
			t.Errorf("not exported before the first request: %s", s)
		}
	}

	// Rejections of several filters, then the same series, some moved.
	base := "http://" + addr
	moved := []string{
		`flashgate_filter_rejections_total{filter="identity",reason="unauthenticated",route="buy"}`,
		`flashgate_filter_rejections_total{filter="identity",reason="bad_user_id",route="buy"}`,
		`flashgate_filter_rejections_total{filter="blacklist",reason="blacklisted",route="buy"}`,
		`flashgate_filter_rejections_total{filter="hidden_path",reason="not_found",route="buy"}`,
		`flashgate_filter_rejections_total{filter="identity",reason="unauthenticated",route="purchase_path"}`,
	}
	for _, user := range []string{"", "mallory", "alice", "bad user"} {
		h := []string{"Accept", "application/json"}
		if user != "" {
			h = append(h, "X-User-Id", user)
		}
		call(t, "POST", base+"/api/buy/phone-sale/x", h...)
	}
	call(t, "GET", base+"/api/activities/phone-sale/path", "Accept", "application/json")
	after := rejectionSeries(scrape(t, g))
	var created []string
	for s := range after {
		if _, ok := before[s]; !ok {
			created = append(created, s)
		}
	}
	if len(created) > 0 {
		sort.Strings(created)
		t.Errorf("series created by a request, not by the build:\n%s", strings.Join(created, "\n"))
	}
	for _, s := range moved {
		if after[s] != 1 {
			t.Errorf("%s did not count its rejection: %v", s, after[s])
		}
	}
}

// rejectionSeries keeps the rejection counters of a scrape.
func rejectionSeries(m map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for s, v := range m {
		if strings.HasPrefix(s, "flashgate_filter_rejections_total{") || strings.HasPrefix(s, "flashgate_activity_rejections_total{") {
			out[s] = v
		}
	}
	return out
}
