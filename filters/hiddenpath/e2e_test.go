package hiddenpath_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flashgate/flashgate/conf"
	_ "github.com/flashgate/flashgate/filters/hiddenpath"
	_ "github.com/flashgate/flashgate/filters/identity"
	_ "github.com/flashgate/flashgate/filters/token"
	_ "github.com/flashgate/flashgate/filters/window"
	"github.com/flashgate/flashgate/gateway"
	"github.com/flashgate/flashgate/internal/gatewaytest"
)

// e2eConfig is the README's example, with secrets inline and a short
// min_age so the test need not wait a second. YAML anchors share one key
// list between each endpoint and its filter.
const e2eConfig = `
activities:
  - id: act1
    stock: 10
    start: "2020-01-01T00:00:00Z"
  - id: later
    stock: 10
    start: "2099-01-01T00:00:00Z"
routes:
  - name: token
    path: /api/activities/{activity}/token
    filters:
      - identity: {header: X-User-Id, require: true}
    action:
      type: json
      endpoint: order_token
      config:
        keys: &order_keys
          - {id: k2, secret: "order-secret-2-order-secret-2-xx"}
          - {id: k1, secret: "order-secret-1-order-secret-1-xx"}
        min_age: 200ms
        max_age: 5m
  - name: path
    path: /api/activities/{activity}/path
    filters:
      - identity: {header: X-User-Id}
    action:
      type: json
      endpoint: purchase_path
      config:
        keys: &path_keys
          - {id: p1, secret: "path-secret-1-path-secret-1-xxxx"}
  - name: buy
    method: POST
    path: /api/buy/{activity}/{sig}
    filters:
      - identity: {header: X-User-Id, require: true}
      - hidden_path: {keys: *path_keys}
      - order_token: {keys: *order_keys, min_age: 200ms, max_age: 5m}
    action: {type: json, endpoint: activity_status}
`

// serve runs a gateway on yaml over an in-memory listener until the test
// ends.
func serve(t *testing.T, yaml string) client {
	t.Helper()
	cfg, err := conf.Parse([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := gateway.NewServer(cfg, gateway.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	return client{gatewaytest.Serve(t, srv)}
}

type client struct {
	c *fasthttp.Client
}

func (c client) do(t *testing.T, method, path, user string, headers ...string) (int, string, string) {
	t.Helper()
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod(method)
	req.SetRequestURI("http://flashgate.test" + path)
	req.Header.Set("Accept", "application/json")
	if user != "" {
		req.Header.Set("X-User-Id", user)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	if err := c.c.DoTimeout(req, resp, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode(), string(resp.Header.Peek("X-Flashgate-Reason")), string(resp.Body())
}

// TestEndToEnd runs the three parts behind a real gateway: fetch a path
// and a token, wait min_age, buy; and checks that every shortcut fails.
func TestEndToEnd(t *testing.T) {
	c := serve(t, e2eConfig)

	status, reason, _ := c.do(t, "GET", "/api/activities/act1/path", "")
	if status != 401 || reason != "unauthenticated" {
		t.Fatalf("anonymous path: %d %s", status, reason)
	}
	if status, reason, body := c.do(t, "GET", "/api/activities/later/path", "alice"); status != 403 || !strings.Contains(body, `"starts_at":"2099-01-01T00:00:00.000Z"`) {
		t.Fatalf("early path: %d %s %s", status, reason, body)
	}
	var p struct{ Path string }
	_, _, body := c.do(t, "GET", "/api/activities/act1/path", "alice")
	if err := json.Unmarshal([]byte(body), &p); err != nil || !strings.HasPrefix(p.Path, "/api/buy/act1/") {
		t.Fatalf("path: %s", body)
	}
	var tok struct{ Token string }
	_, _, body = c.do(t, "GET", "/api/activities/act1/token", "alice")
	if err := json.Unmarshal([]byte(body), &tok); err != nil || tok.Token == "" {
		t.Fatalf("token: %s", body)
	}
	_, _, missingBody := c.do(t, "GET", "/no/such/page", "alice")

	checks := []struct {
		name, path, user, token string
		status                  int
		reason                  string
	}{
		{"guessed path", "/api/buy/act1/AAAAAAAAAAAAAAAAAAAAAA", "alice", tok.Token, 404, "not_found"},
		{"borrowed path", p.Path, "bob", tok.Token, 404, "not_found"},
		{"too young", p.Path, "alice", tok.Token, 429, "token_too_young"},
		{"no token", p.Path, "alice", "", 403, "token_missing"},
	}
	for _, tc := range checks {
		status, reason, body := c.do(t, "POST", tc.path, tc.user, "X-Order-Token", tc.token)
		if status != tc.status || reason != tc.reason {
			t.Fatalf("%s: %d %s %s", tc.name, status, reason, body)
		}
		if tc.status == 404 && body != missingBody {
			t.Fatalf("%s: 404 body differs from a missing page's:\n%s\n%s", tc.name, body, missingBody)
		}
	}
	time.Sleep(250 * time.Millisecond)
	if status, reason, body := c.do(t, "POST", p.Path, "alice", "X-Order-Token", tok.Token); status != 200 {
		t.Fatalf("purchase: %d %s %s", status, reason, body)
	}
}

// earlyConfig is e2eConfig's three routes with a sale_window early margin
// of 30 s on the purchase route: "soon" opens 20 s from now (inside the
// margin), "later" 50 s from now (outside it).
const earlyConfig = `
activities:
  - {id: soon, stock: 10, start: "%[1]s", end: "%[3]s"}
  - {id: later, stock: 10, start: "%[2]s", end: "%[3]s"}
routes:
  - name: token
    path: /api/activities/{activity}/token
    filters:
      - identity: {header: X-User-Id, require: true}
    action:
      type: json
      endpoint: order_token
      config:
        keys: &order_keys
          - {id: k1, secret: "order-secret-1-order-secret-1-xx"}
        min_age: 200ms
        max_age: 5m
  - name: path
    path: /api/activities/{activity}/path
    filters:
      - identity: {header: X-User-Id}
    action:
      type: json
      endpoint: purchase_path
      config:
        keys: &path_keys
          - {id: p1, secret: "path-secret-1-path-secret-1-xxxx"}
  - name: buy
    method: POST
    path: /api/buy/{activity}/{sig}
    filters:
      - identity: {header: X-User-Id, require: true}
      - sale_window: {early: 30s}
      - hidden_path: {keys: *path_keys}
      - order_token: {keys: *order_keys, min_age: 200ms, max_age: 5m}
    action: {type: json, endpoint: activity_status}
`

// sale_window.early opens the whole sale, not just its own filter: within
// the margin a shopper gets a path and a token and buys; outside it every
// step is refused as before. (The endpoints used to judge the raw window,
// so a request sale_window let in early had no path or token.)
func TestEarlyOpensEveryStep(t *testing.T) {
	now := time.Now().UTC()
	ts := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339) }
	c := serve(t, fmt.Sprintf(earlyConfig, ts(20*time.Second), ts(50*time.Second), ts(time.Hour)))

	status, reason, body := c.do(t, "GET", "/api/activities/soon/path", "alice")
	var p struct{ Path string }
	if err := json.Unmarshal([]byte(body), &p); status != 200 || err != nil || !strings.HasPrefix(p.Path, "/api/buy/soon/") {
		t.Fatalf("path within the margin: %d %s %s", status, reason, body)
	}
	status, reason, body = c.do(t, "GET", "/api/activities/soon/token", "alice")
	var tok struct{ Token string }
	if err := json.Unmarshal([]byte(body), &tok); status != 200 || err != nil || tok.Token == "" {
		t.Fatalf("token within the margin: %d %s %s", status, reason, body)
	}
	time.Sleep(250 * time.Millisecond) // min_age
	if status, reason, body := c.do(t, "POST", p.Path, "alice", "X-Order-Token", tok.Token); status != 200 {
		t.Fatalf("purchase within the margin: %d %s %s", status, reason, body)
	}

	later := ts(50 * time.Second)
	if status, reason, body := c.do(t, "GET", "/api/activities/later/path", "alice"); status != 403 || reason != "not_started" ||
		!strings.Contains(body, `"starts_at":"`+later[:len(later)-1]+`.000Z"`) {
		t.Fatalf("path outside the margin: %d %s %s", status, reason, body)
	}
	if status, reason, body := c.do(t, "GET", "/api/activities/later/token", "alice"); status != 403 || reason != "sale_closed" {
		t.Fatalf("token outside the margin: %d %s %s", status, reason, body)
	}
	if status, reason, body := c.do(t, "POST", "/api/buy/later/AAAAAAAAAAAAAAAAAAAAAA", "alice", "X-Order-Token", tok.Token); status != 403 || reason != "not_started" {
		t.Fatalf("purchase outside the margin: %d %s %s", status, reason, body)
	}
}

// TestKeysMustPair: an endpoint that signs with a key its route's
// filters do not hold would issue paths and tokens that every purchase
// refuses; the build names both sides, and a rotation (the filter holds
// the new key beside the old) passes.
func TestKeysMustPair(t *testing.T) {
	const other = `{id: p1, secret: "another-secret-another-secret-xx"}`
	tests := []struct {
		name, from, to, want string
	}{
		{"path keys differ", "hidden_path: {keys: *path_keys}", "hidden_path: {keys: [" + other + "]}",
			`routes[1].action.config.keys: signs with key "p1", which the hidden_path filter's keys at routes[2].filters[1].hidden_path.keys do not hold with the same secret (activities act1, later): every purchase path it issues would be refused`},
		{"token key missing", "order_token: {keys: *order_keys,", `order_token: {keys: [{id: k1, secret: "order-secret-1-order-secret-1-xx"}],`,
			`routes[0].action.config.keys: signs with key "k2", which the order_token filter's keys at routes[2].filters[2].order_token.keys do not hold with the same secret (activities act1, later): every order token it issues would be refused`},
		{"rotation: the filter holds the new key too", "hidden_path: {keys: *path_keys}",
			`hidden_path: {keys: [{id: p0, secret: "old-path-secret-old-path-secret-x"}, {id: p1, secret: "path-secret-1-path-secret-1-xxxx"}]}`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			yaml := strings.Replace(e2eConfig, tc.from, tc.to, 1)
			if yaml == e2eConfig {
				t.Fatal("the edit did not apply")
			}
			cfg, err := conf.Parse([]byte(yaml))
			if err != nil {
				t.Fatal(err)
			}
			_, err = gateway.NewServer(cfg, gateway.Deps{})
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v\nwant %s", err, tc.want)
			}
		})
	}
}
