package gateway_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/flashgate/flashgate/conf"
	_ "github.com/flashgate/flashgate/filters"
	"github.com/flashgate/flashgate/gateway"
	"github.com/flashgate/flashgate/stock"
)

var (
	h1Re      = regexp.MustCompile(`<h1>([^<]*)</h1>`)
	refreshRe = regexp.MustCompile(`<meta http-equiv="refresh" content="(\d+)(;url=[^"]*)?">`)
	pluralRe  = regexp.MustCompile(`\b1 seconds\b|\b1 minutes\b|\b1 days\b`)
)

// TestSystemPages checks every page the demo config builds, as a shopper
// sees it: a heading in words (never an HTTP status name), a link back to
// the shop, the favicon, the right plural, and busy and rate-limited
// pages that load themselves again after their Retry-After.
func TestSystemPages(t *testing.T) {
	cfg, err := conf.Load("../conf/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	st := stock.NewMemory()
	defer st.Close()
	in, err := gateway.Build(cfg, gateway.Deps{Stock: st})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()

	statusNames := map[string]bool{"Error": true}
	for code := 100; code < 600; code++ {
		if m := fasthttp.StatusMessage(code); m != "" && m != "Unknown Status Code" {
			statusNames[m] = true
		}
	}
	pages := in.Pages.All()
	kinds := map[string]bool{}
	for _, p := range pages {
		kinds[p.Kind] = true
		var body struct {
			RetryAfter int `json:"retry_after"`
		}
		if err := json.Unmarshal(p.JSON, &body); err != nil {
			t.Fatalf("%s: JSON: %v", p.Reason, err)
		}
		name := fmt.Sprintf("%d %s (%s)", p.Status, p.Reason, p.Kind)
		t.Run(name, func(t *testing.T) {
			html := string(p.HTML)
			m := h1Re.FindStringSubmatch(html)
			switch {
			case m == nil:
				t.Errorf("no heading:\n%s", html)
			case statusNames[m[1]]:
				t.Errorf("heading %q is an HTTP status name", m[1])
			}
			if !strings.Contains(html, `<a class="home" href="/">Back to Flash Shop</a>`) {
				t.Errorf("no link home")
			}
			if !strings.Contains(html, `<link rel="icon" href="/assets/favicon.svg"`) {
				t.Errorf("no favicon link")
			}
			if bad := pluralRe.FindString(html); bad != "" {
				t.Errorf("wrong plural %q", bad)
			}
			if body.RetryAfter == 1 && !strings.Contains(html, "1 second.") {
				t.Errorf("Retry-After 1 not shown as \"1 second\"")
			}
			r := refreshRe.FindStringSubmatch(html)
			retries := p.Kind == "busy" || p.Kind == "rate_limited"
			switch {
			case retries && body.RetryAfter > 0 && (r == nil || r[1] != fmt.Sprint(body.RetryAfter) || r[2] != ""):
				t.Errorf("no refresh of itself after Retry-After %d: %v", body.RetryAfter, r)
			case !retries && r != nil:
				t.Errorf("a %s page reloads itself", p.Kind)
			}
			// Answered to a POST, a reloading page goes to the shop's home
			// (a GET of the POST route would be a 405); the others are
			// the same page.
			other := refreshRe.FindStringSubmatch(string(p.HTMLOther))
			switch {
			case retries && body.RetryAfter > 0 && (other == nil || other[1] != fmt.Sprint(body.RetryAfter) || other[2] != ";url=/"):
				t.Errorf("the page for a POST does not go home after Retry-After %d: %v", body.RetryAfter, other)
			case !retries && string(p.HTMLOther) != html:
				t.Errorf("a %s page differs for a POST", p.Kind)
			}
		})
	}
	// The demo builds every kind a shopper meets during a sale.
	for _, k := range []string{"busy", "rate_limited", "sold_out", "not_started", "ended", "blocked", "not_found", "error"} {
		if !kinds[k] {
			t.Errorf("the demo builds no %s page", k)
		}
	}
}
