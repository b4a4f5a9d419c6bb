package gateway

import (
	"encoding/json"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/internal/demobackend"
)

const steerToken = "test-admin-token-0123456789"

// adminYAML sells phone-sale now and mug-sale from a far future date
// through a proxied purchase route; the activity_status endpoint shows
// their phases (the sale_window filter's own tests cover its pages).
func adminYAML(backend string) string {
	return `
upstreams: [{name: orders, addrs: ["` + backend + `"], timeout: 2s, connect_timeout: 200ms}]
activities:
  - {id: phone-sale, product: phone-x, stock: 5, shards: 1}
  - {id: mug-sale, product: mug, stock: 2, shards: 1, start: "2099-01-01T00:00:00Z"}
routes:
  - {method: POST, path: "/buy/{activity}", filters: [{test_hold: {}}], action: {type: proxy, upstream: orders, rewrite: /orders}}
  - path: /api/activities/{activity}/status
    action: {type: json, endpoint: activity_status}
`
}

type adminServer struct {
	*testServer
	admin  *Admin
	client *fasthttp.Client
	// reloadErr, when set, is what the reload call fails with (a bad file).
	reloadErr error
}

func newAdminServer(t *testing.T) *adminServer {
	t.Helper()
	_, addr, _ := startBackend(t, demobackend.Options{})
	ts := newTestServer(t, adminYAML(addr), Deps{})
	as := &adminServer{testServer: ts}
	ad, err := NewAdmin(conf.Admin{Listen: "inmemory", Token: steerToken}, ts.Server, ts.deps, func() (Report, error) {
		if as.reloadErr != nil {
			return Report{}, as.reloadErr
		}
		return ts.Reload(ts.Instance().Config)
	})
	if err != nil {
		t.Fatal(err)
	}
	ln := fasthttputil.NewInmemoryListener()
	go func() { _ = ad.Serve(ln) }()
	t.Cleanup(func() { _ = ad.srv.Shutdown() })
	as.admin = ad
	as.client = &fasthttp.Client{Dial: func(string) (net.Conn, error) { return ln.Dial() }, ReadTimeout: 5 * time.Second}
	return as
}

// call sends an admin request with the given token ("" for none).
func (as *adminServer) call(t *testing.T, method, path, token, body string) (int, map[string]any) {
	t.Helper()
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	req.Header.SetMethod(method)
	req.SetRequestURI("http://admin.test" + path)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.SetBodyString(body)
	resp := &fasthttp.Response{}
	if err := as.client.DoTimeout(req, resp, 5*time.Second); err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	var m map[string]any
	if err := json.Unmarshal(resp.Body(), &m); err != nil {
		t.Fatalf("%s %s: body %q is not a JSON object: %v", method, path, resp.Body(), err)
	}
	return resp.StatusCode(), m
}

func (as *adminServer) activity(t *testing.T, id string) map[string]any {
	t.Helper()
	code, m := as.call(t, "GET", "/admin/activities", steerToken, "")
	if code != 200 {
		t.Fatalf("GET /admin/activities: %d %v", code, m)
	}
	for _, a := range m["activities"].([]any) {
		if a := a.(map[string]any); a["id"] == id {
			return a
		}
	}
	t.Fatalf("activity %s not listed: %v", id, m)
	return nil
}

// TestAdminSteering covers every new admin call: success, no token,
// wrong token, bad input and unknown id, and that a refused call changes
// nothing.
func TestAdminSteering(t *testing.T) {
	as := newAdminServer(t)
	const win = `{"start":"2026-01-01T00:00:00Z","end":"2098-01-01T00:00:00+08:00"}`
	tests := []struct {
		name, method, path, token, body string
		status                          int
		reason                          string
	}{
		{"list", "GET", "/admin/activities", steerToken, "", 200, ""},
		{"list no token", "GET", "/admin/activities", "", "", 401, "unauthorized"},
		{"list wrong token", "GET", "/admin/activities", "wrong-token-wrong-token", "", 401, "unauthorized"},
		{"pause no token", "POST", "/admin/activities/phone-sale/pause", "", "", 401, "unauthorized"},
		{"pause wrong token", "POST", "/admin/activities/phone-sale/pause", "x" + steerToken, "", 401, "unauthorized"},
		{"pause unknown id", "POST", "/admin/activities/nope/pause", steerToken, "", 404, "unknown_activity"},
		{"resume no token", "POST", "/admin/activities/phone-sale/resume", "", "", 401, "unauthorized"},
		{"resume wrong token", "POST", "/admin/activities/phone-sale/resume", "bad", "", 401, "unauthorized"},
		{"resume unknown id", "POST", "/admin/activities/nope/resume", steerToken, "", 404, "unknown_activity"},
		{"window no token", "PUT", "/admin/activities/mug-sale/window", "", win, 401, "unauthorized"},
		{"window wrong token", "PUT", "/admin/activities/mug-sale/window", "bad", win, 401, "unauthorized"},
		{"window unknown id", "PUT", "/admin/activities/nope/window", steerToken, win, 404, "unknown_activity"},
		{"window bad json", "PUT", "/admin/activities/mug-sale/window", steerToken, `{"start":`, 400, "bad_window"},
		{"window not an object", "PUT", "/admin/activities/mug-sale/window", steerToken, `["2026-01-01T00:00:00Z"]`, 400, "bad_window"},
		{"window unknown field", "PUT", "/admin/activities/mug-sale/window", steerToken, `{"begin":"2026-01-01T00:00:00Z"}`, 400, "bad_window"},
		{"window bad time", "PUT", "/admin/activities/mug-sale/window", steerToken, `{"start":"tomorrow"}`, 400, "bad_window"},
		{"window no bound", "PUT", "/admin/activities/mug-sale/window", steerToken, `{"start":null,"end":null}`, 400, "bad_window"},
		{"window end before start", "PUT", "/admin/activities/mug-sale/window", steerToken, `{"start":"2026-02-01T00:00:00Z","end":"2026-01-01T00:00:00Z"}`, 400, "bad_window"},
		{"window two objects", "PUT", "/admin/activities/mug-sale/window", steerToken, win + win, 400, "bad_window"},
		{"window key twice", "PUT", "/admin/activities/mug-sale/window", steerToken, `{"end":"2026-01-01T00:00:00Z","end":"2027-01-01T00:00:00Z"}`, 400, "bad_window"},
		{"near miss: trailing slash", "POST", "/admin/reload/", steerToken, "", 404, "not_found"},
		{"near miss: case", "GET", "/admin/Status", steerToken, "", 404, "not_found"},
		{"window key in capitals", "PUT", "/admin/activities/mug-sale/window", steerToken, `{"START":"2030-01-01T11:00:00Z"}`, 400, "bad_window"},
		{"window key twice, two spellings", "PUT", "/admin/activities/mug-sale/window", steerToken, `{"start":"2030-01-01T10:00:00Z","Start":"2030-01-01T09:00:00Z"}`, 400, "bad_window"},
		{"clear window no token", "DELETE", "/admin/activities/mug-sale/window", "", "", 401, "unauthorized"},
		{"clear window wrong token", "DELETE", "/admin/activities/mug-sale/window", "bad", "", 401, "unauthorized"},
		{"clear window unknown id", "DELETE", "/admin/activities/nope/window", steerToken, "", 404, "unknown_activity"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, m := as.call(t, tc.method, tc.path, tc.token, tc.body)
			if code != tc.status {
				t.Fatalf("status %d, want %d: %v", code, tc.status, m)
			}
			if tc.reason != "" && (m["error"] != tc.reason || m["message"] == "") {
				t.Fatalf("answer %v, want error %q with a message", m, tc.reason)
			}
			// Nothing was changed by any of these calls.
			for _, id := range []string{"phone-sale", "mug-sale"} {
				a := as.activity(t, id)
				if a["paused"] != false || len(a["overrides"].(map[string]any)) != 0 {
					t.Fatalf("%s changed by a refused call: %v", id, a)
				}
			}
		})
	}
	if msg := fmtMessage(as, t, `{"start":"2026-02-01T00:00:00Z","end":"2026-01-01T00:00:00Z"}`); !strings.Contains(msg, "start must be before end") {
		t.Errorf("end before start message %q", msg)
	}
	if msg := fmtMessage(as, t, `{"start":"tomorrow"}`); !strings.Contains(msg, "start: must be an RFC 3339 time") {
		t.Errorf("bad time message %q", msg)
	}
}

func fmtMessage(as *adminServer, t *testing.T, body string) string {
	_, m := as.call(t, "PUT", "/admin/activities/mug-sale/window", steerToken, body)
	s, _ := m["message"].(string)
	return s
}

// TestAdminPauseResume: a paused activity's purchases get the paused
// page (503 + Retry-After) and take no stock; other activities and the
// status endpoint are untouched; the pause survives a reload; resume
// sells again.
func TestAdminPauseResume(t *testing.T) {
	as := newAdminServer(t)
	code, m := as.call(t, "POST", "/admin/activities/phone-sale/pause", steerToken, "")
	if code != 200 || m["paused"] != true || m["overrides"].(map[string]any)["paused"] != true {
		t.Fatalf("pause: %d %v", code, m)
	}
	r := as.do(t, "POST", "/buy/phone-sale", "X-User-Id", "u1", "Accept", "application/json")
	if r.StatusCode() != 503 || string(r.Header.Peek("Retry-After")) != "5" || string(r.Header.Peek("X-Flashgate-Reason")) != "paused" {
		t.Fatalf("paused purchase: %d Retry-After %q reason %q", r.StatusCode(), r.Header.Peek("Retry-After"), r.Header.Peek("X-Flashgate-Reason"))
	}
	if left := as.activity(t, "phone-sale")["left"]; left != 5.0 {
		t.Fatalf("a paused purchase took stock: left %v", left)
	}
	// The shoppers' status says so (the page shows it instead of its
	// button); it may be up to one refresh old.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		r := as.do(t, "GET", "/api/activities/phone-sale/status")
		if r.StatusCode() != 200 {
			t.Fatalf("status endpoint answers %d while paused", r.StatusCode())
		}
		if strings.Contains(string(r.Body()), `"paused":true`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status while paused: %s", r.Body())
		}
	}
	if _, err := as.Reload(as.Instance().Config); err != nil {
		t.Fatal(err)
	}
	if r := as.do(t, "POST", "/buy/phone-sale", "X-User-Id", "u1"); r.StatusCode() != 503 {
		t.Fatalf("after a reload the pause is gone: %d", r.StatusCode())
	}
	if code, m := as.call(t, "POST", "/admin/activities/phone-sale/resume", steerToken, ""); code != 200 || m["paused"] != false {
		t.Fatalf("resume: %d %v", code, m)
	}
	if r := as.do(t, "POST", "/buy/phone-sale", "X-User-Id", "u1"); r.StatusCode() != 201 {
		t.Fatalf("after resume: %d %s", r.StatusCode(), r.Body())
	}
	if a := as.activity(t, "phone-sale"); a["left"] != 4.0 || a["sold"] != 1.0 {
		t.Fatalf("after one sale: %v", a)
	}
}

// TestAdminWindowOverride: moving a not-yet-started sale's window to now
// opens it; the override is shown beside the YAML's window, survives a
// reload, and clearing it brings the YAML's window back.
func TestAdminWindowOverride(t *testing.T) {
	as := newAdminServer(t)
	// The status JSON may be StatusRefresh old: poll it, boundedly.
	status := func(want string) string {
		var st ActivityStatus
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			r := as.do(t, "GET", "/api/activities/mug-sale/status")
			if err := json.Unmarshal(r.Body(), &st); err != nil {
				t.Fatal(err)
			}
			if st.Phase == want {
				break
			}
		}
		return st.Phase
	}
	if p := status("not_started"); p != "not_started" {
		t.Fatalf("phase %s before the override", p)
	}
	code, m := as.call(t, "PUT", "/admin/activities/mug-sale/window", steerToken, `{"start":"2026-01-01T00:00:00Z","end":null}`)
	if code != 200 || m["phase"] != "open" {
		t.Fatalf("set window: %d %v", code, m)
	}
	ov := m["overrides"].(map[string]any)["window"].(map[string]any)
	if ov["start"] != "2026-01-01T00:00:00.000Z" || ov["end"] != nil {
		t.Fatalf("override shown as %v", ov)
	}
	if yaml := m["windows"].([]any)[0].(map[string]any); yaml["start"] != "2099-01-01T00:00:00.000Z" {
		t.Fatalf("the YAML's window is not shown beside the override: %v", m["windows"])
	}
	if _, err := as.Reload(as.Instance().Config); err != nil {
		t.Fatal(err)
	}
	if p := status("open"); p != "open" {
		t.Fatalf("phase %s after a reload, want the override's open", p)
	}
	if code, m := as.call(t, "DELETE", "/admin/activities/mug-sale/window", steerToken, ""); code != 200 || len(m["overrides"].(map[string]any)) != 0 {
		t.Fatalf("clear: %d %v", code, m)
	}
	if p := status("not_started"); p != "not_started" {
		t.Fatalf("phase %s after clearing, want the YAML's not_started", p)
	}
}

// TestAdminCalls covers the other admin calls the same way: success, no
// token, wrong token, bad input and unknown id, where each applies.
func TestAdminCalls(t *testing.T) {
	as := newAdminServer(t)
	const wrong = "wrong-token-wrong-token"
	tests := []struct {
		name, method, path, token string
		status                    int
		reason                    string
		reloadErr                 error
	}{
		{"status", "GET", "/admin/status", steerToken, 200, "", nil},
		{"status no token", "GET", "/admin/status", "", 401, "unauthorized", nil},
		{"status wrong token", "GET", "/admin/status", wrong, 401, "unauthorized", nil},
		{"reload", "POST", "/admin/reload", steerToken, 200, "", nil},
		{"reload bad file", "POST", "/admin/reload", steerToken, 422, "config_invalid", errors.New("flashgate.yaml: routes[0].path: required")},
		{"reload no token", "POST", "/admin/reload", "", 401, "unauthorized", nil},
		{"reload wrong token", "POST", "/admin/reload", wrong, 401, "unauthorized", nil},
		{"warm", "POST", "/admin/activities/phone-sale/warm", steerToken, 200, "", nil},
		{"warm no token", "POST", "/admin/activities/phone-sale/warm", "", 401, "unauthorized", nil},
		{"warm wrong token", "POST", "/admin/activities/phone-sale/warm", wrong, 401, "unauthorized", nil},
		{"warm unknown id", "POST", "/admin/activities/nope/warm", steerToken, 404, "unknown_activity", nil},
		{"stock", "GET", "/admin/activities/phone-sale/stock", steerToken, 200, "", nil},
		{"stock no token", "GET", "/admin/activities/phone-sale/stock", "", 401, "unauthorized", nil},
		{"stock wrong token", "GET", "/admin/activities/phone-sale/stock", wrong, 401, "unauthorized", nil},
		{"stock unknown id", "GET", "/admin/activities/nope/stock", steerToken, 404, "unknown_activity", nil},
		{"topup no token", "POST", "/admin/activities/phone-sale/topup?units=1", "", 401, "unauthorized", nil},
		{"topup wrong token", "POST", "/admin/activities/phone-sale/topup?units=1", wrong, 401, "unauthorized", nil},
		{"topup unknown id", "POST", "/admin/activities/nope/topup?units=1", steerToken, 404, "unknown_activity", nil},
		{"topup bad units", "POST", "/admin/activities/phone-sale/topup?units=-3", steerToken, 400, "bad_units", nil},
		{"topup no units", "POST", "/admin/activities/phone-sale/topup", steerToken, 400, "bad_units", nil},
		{"release no token", "POST", "/admin/activities/phone-sale/release?user=u1&seq=1", "", 401, "unauthorized", nil},
		{"release wrong token", "POST", "/admin/activities/phone-sale/release?user=u1&seq=1", wrong, 401, "unauthorized", nil},
		{"release unknown id", "POST", "/admin/activities/nope/release?user=u1&seq=1", steerToken, 404, "unknown_activity", nil},
		{"release bad seq", "POST", "/admin/activities/phone-sale/release?user=u1&seq=zero", steerToken, 400, "bad_release", nil},
		{"release no user", "POST", "/admin/activities/phone-sale/release?seq=1", steerToken, 400, "bad_release", nil},
		{"release unknown order", "POST", "/admin/activities/phone-sale/release?user=u9&seq=99", steerToken, 404, "unknown_order", nil},
		{"paid unknown order", "POST", "/admin/activities/phone-sale/orders/phone-sale:u9:99/paid", steerToken, 404, "unknown_order", nil},
		{"paid key of another activity", "POST", "/admin/activities/phone-sale/orders/mug-sale:u9:99/paid", steerToken, 400, "bad_key", nil},
		{"paid key without seq", "POST", "/admin/activities/phone-sale/orders/phone-sale:u9/paid", steerToken, 400, "bad_key", nil},
		{"paid bad user", "POST", "/admin/activities/phone-sale/orders/phone-sale:a%20b:1/paid", steerToken, 400, "bad_key", nil},
		{"paid unknown id", "POST", "/admin/activities/nope/orders/nope:u9:1/paid", steerToken, 404, "unknown_activity", nil},
		{"paid no token", "POST", "/admin/activities/phone-sale/orders/phone-sale:u9:99/paid", "", 401, "unauthorized", nil},
		{"paid with a query", "POST", "/admin/activities/phone-sale/orders/phone-sale:u9:99/paid?force=1", steerToken, 400, "bad_query", nil},
		{"warm force=yes", "POST", "/admin/activities/phone-sale/warm?force=yes", steerToken, 400, "bad_force", nil},
		{"warm force empty", "POST", "/admin/activities/phone-sale/warm?force=", steerToken, 400, "bad_force", nil},
		{"warm force=1", "POST", "/admin/activities/phone-sale/warm?force=1", steerToken, 200, "", nil},
		{"warm force=false", "POST", "/admin/activities/phone-sale/warm?force=false", steerToken, 200, "", nil},
		{"warm misspelt force", "POST", "/admin/activities/phone-sale/warm?froce=true", steerToken, 400, "bad_force", nil},
		{"warm force twice", "POST", "/admin/activities/phone-sale/warm?force=false&force=true", steerToken, 400, "bad_force", nil},
		{"topup units twice", "POST", "/admin/activities/phone-sale/topup?units=1&units=9", steerToken, 400, "bad_units", nil},
		{"topup unknown parameter", "POST", "/admin/activities/phone-sale/topup?units=1&unit=9", steerToken, 400, "bad_units", nil},
		{"release user with a space", "POST", "/admin/activities/phone-sale/release?user=a%20b&seq=1", steerToken, 400, "bad_release", nil},
		{"release user too long", "POST", "/admin/activities/phone-sale/release?user=" + strings.Repeat("u", 200) + "&seq=1", steerToken, 400, "bad_release", nil},
		{"release user with a brace", "POST", "/admin/activities/phone-sale/release?user=%7Bx%7D&seq=1", steerToken, 400, "bad_release", nil},
		{"release unknown parameter", "POST", "/admin/activities/phone-sale/release?user=u1&seq=1&force=true", steerToken, 400, "bad_release", nil},
		{"no such endpoint", "GET", "/admin/nothing", steerToken, 404, "not_found", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			as.reloadErr = tc.reloadErr
			code, m := as.call(t, tc.method, tc.path, tc.token, "")
			if code != tc.status {
				t.Fatalf("status %d, want %d: %v", code, tc.status, m)
			}
			if tc.reason != "" && (m["error"] != tc.reason || m["message"] == "") {
				t.Fatalf("answer %v, want error %q with a message", m, tc.reason)
			}
			// None of these calls sold, added or released anything.
			if a := as.activity(t, "phone-sale"); a["left"] != 5.0 || a["sold"] != 0.0 {
				t.Fatalf("stock changed: %v", a)
			}
		})
	}
	for path, want := range map[string]string{
		"/admin/activities/phone-sale/warm?force=yes":           `force must be true, false, 1 or 0, got "yes"`,
		"/admin/activities/phone-sale/release?user=a%20b&seq=1": `user must be a user id, 1..128 bytes of [A-Za-z0-9_.@:-], got "a b"`,
		"/admin/activities/phone-sale/topup?units=1&units=9":    `query parameter "units" is given more than once`,
		"/admin/activities/phone-sale/warm?froce=true":          `unknown query parameter "froce" (this call takes force)`,
		"/admin/activities/phone-sale/release?user=u1&seq=0x1":  `seq must be a positive integer without leading zeros, got "0x1"`,
		"/admin/activities/phone-sale/release?user=u1&seq=01":   `seq must be a positive integer without leading zeros, got "01"`,
		"/admin/activities/phone-sale/topup?units=05":           `units must be an integer in 1..2^40 without sign or leading zeros, got "05"`,
		"/admin/activities/phone-sale/topup?units=%2B5":         `units must be an integer in 1..2^40 without sign or leading zeros, got "+5"`,
	} {
		if _, m := as.call(t, "POST", path, steerToken, ""); m["message"] != want {
			t.Errorf("POST %s: message %q, want %q", path, m["message"], want)
		}
	}
	// The successful release and top-up, last: they change the stock.
	r := as.do(t, "POST", "/buy/phone-sale", "X-User-Id", "u1")
	var order struct {
		Key string `json:"idempotency_key"`
	}
	if r.StatusCode() != 201 || json.Unmarshal(r.Body(), &order) != nil {
		t.Fatalf("purchase: %d %s", r.StatusCode(), r.Body())
	}
	if a := as.activity(t, "phone-sale"); a["left"] != 4.0 || a["sold"] != 1.0 {
		t.Fatalf("after one sale: %v", a)
	}
	code, m := as.call(t, "POST", "/admin/activities/phone-sale/release?user=u1&seq="+seqOf(t, order.Key), steerToken, "")
	if code != 200 || m["released"] != true {
		t.Fatalf("release: %d %v", code, m)
	}
	if a := as.activity(t, "phone-sale"); a["left"] != 5.0 || a["sold"] != 0.0 {
		t.Fatalf("after the release: %v", a)
	}
	// A repeat is harmless (200, nothing released); an order that never
	// was (another user's, a purchase number not issued) is named 404.
	if code, m := as.call(t, "POST", "/admin/activities/phone-sale/release?user=u1&seq="+seqOf(t, order.Key), steerToken, ""); code != 200 || m["released"] != false {
		t.Fatalf("repeated release: %d %v, want 200 released false", code, m)
	}
	next, _ := strconv.ParseInt(seqOf(t, order.Key), 10, 64)
	for _, q := range []string{"user=u1&seq=" + strconv.FormatInt(next+1, 10), "user=nobody&seq=" + seqOf(t, order.Key)} {
		if code, m := as.call(t, "POST", "/admin/activities/phone-sale/release?"+q, steerToken, ""); code != 404 || m["error"] != "unknown_order" {
			t.Errorf("release of an order that never was (%s): %d %v, want 404 unknown_order", q, code, m)
		}
	}
	if a := as.activity(t, "phone-sale"); a["left"] != 5.0 || a["sold"] != 0.0 {
		t.Fatalf("refused releases changed the stock: %v", a)
	}
	if code, m := as.call(t, "POST", "/admin/activities/phone-sale/topup?units=2", steerToken, ""); code != 200 || m["added"] != 2.0 {
		t.Fatalf("topup: %d %v", code, m)
	}
	if a := as.activity(t, "phone-sale"); a["left"] != 7.0 || a["sold"] != 0.0 {
		t.Fatalf("after a top-up of 2: %v", a)
	}
	if r := as.do(t, "POST", "/buy/phone-sale", "X-User-Id", "u2"); r.StatusCode() != 201 {
		t.Fatalf("purchase after the top-up: %d %s", r.StatusCode(), r.Body())
	}
	// Sold counts the top-up: the store's own numbers, not the YAML's stock.
	if a := as.activity(t, "phone-sale"); a["left"] != 6.0 || a["sold"] != 1.0 {
		t.Fatalf("after a top-up of 2 and a sale: %v", a)
	}
}

// TestAdminActivitiesCountdown: GET /admin/activities carries what the
// dashboard's countdown and stock columns show: the store's total, and
// the window times (Activity.Countdown, the one the shoppers' status JSON
// uses), override included.
func TestAdminActivitiesCountdown(t *testing.T) {
	as := newAdminServer(t)
	tests := []struct {
		name, id, window string
		starts, ends     any
		total            any
	}{
		{"open, no end", "phone-sale", "", nil, nil, 5.0},
		{"not started, no end", "mug-sale", "", "2099-01-01T00:00:00.000Z", nil, 2.0},
		{"override moves both", "mug-sale", `{"start":"2098-01-01T08:00:00+08:00","end":"2098-01-02T00:00:00Z"}`,
			"2098-01-01T00:00:00.000Z", "2098-01-02T00:00:00.000Z", 2.0},
		{"open until the override's end", "phone-sale", `{"start":null,"end":"2097-05-01T00:00:00Z"}`, nil, "2097-05-01T00:00:00.000Z", 5.0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.window != "" {
				if code, m := as.call(t, "PUT", "/admin/activities/"+tc.id+"/window", steerToken, tc.window); code != 200 {
					t.Fatalf("window: %d %v", code, m)
				}
			}
			a := as.activity(t, tc.id)
			if a["starts_at"] != tc.starts || a["ends_at"] != tc.ends || a["total"] != tc.total {
				t.Errorf("starts_at %v ends_at %v total %v, want %v %v %v", a["starts_at"], a["ends_at"], a["total"], tc.starts, tc.ends, tc.total)
			}
			if _, ok := a["starts_at"]; !ok {
				t.Errorf("starts_at missing (it is null when there is none): %v", a)
			}
		})
	}
}

// TestDashboardPage: /dashboard is one self-contained page (it must work
// offline, beside a gate that may have no way out): no script, style or
// image from anywhere, a CSP that allows none, and it reads only the
// admin API and /metrics of its own origin.
func TestDashboardPage(t *testing.T) {
	as := newAdminServer(t)
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	req.SetRequestURI("http://admin.test/dashboard")
	resp := &fasthttp.Response{}
	if err := as.client.DoTimeout(req, resp, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	body := string(resp.Body())
	if resp.StatusCode() != 200 || !strings.HasPrefix(string(resp.Header.ContentType()), "text/html") {
		t.Fatalf("GET /dashboard: %d %s", resp.StatusCode(), resp.Header.ContentType())
	}
	if csp := string(resp.Header.Peek("Content-Security-Policy")); !strings.HasPrefix(csp, "default-src 'self';") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
	for _, bad := range []string{"src=", "<link", "@import", "url(", "https://", "?token"} {
		if strings.Contains(body, bad) {
			t.Errorf("the dashboard holds %q: it must need nothing from elsewhere", bad)
		}
	}
	for _, want := range []string{`"/admin/activities"`, `"/metrics"`, `"Bearer "`, "sessionStorage"} {
		if !strings.Contains(body, want) {
			t.Errorf("the dashboard does not use %s", want)
		}
	}
	if len(body) > 20<<10 {
		t.Errorf("the dashboard is %d bytes; keep it under 20 KiB", len(body))
	}
}

// TestAdminAuthFirst: without the token every admin path answers 401,
// whether it exists, takes another method or exists in another case, so
// the answers do not map the API; the open paths stay open.
func TestAdminAuthFirst(t *testing.T) {
	as := newAdminServer(t)
	tests := []struct {
		name, method, path string
		status             int
	}{
		{"unknown admin path", "GET", "/admin/nothing", 401},
		{"unknown activity call", "POST", "/admin/activities/phone-sale/explode", 401},
		{"wrong method", "DELETE", "/admin/status", 401},
		{"other case", "GET", "/ADMIN/status", 401},
		{"trailing slash", "GET", "/admin/status/", 401},
		{"bare /admin", "GET", "/admin", 401},
		{"outside /admin", "GET", "/secret", 401},
		{"openapi", "GET", "/admin/openapi.json", 200},
		{"metrics", "GET", "/metrics", 200},
		{"healthz", "GET", "/healthz", 200},
		{"readyz", "GET", "/readyz", 200},
		{"healthz HEAD", "HEAD", "/healthz", 200},
		{"readyz HEAD", "HEAD", "/readyz", 200},
		{"healthz OPTIONS", "OPTIONS", "/healthz", 200},
		{"readyz OPTIONS", "OPTIONS", "/readyz", 200},
		{"readyz OPTIONS, misspelt query", "OPTIONS", "/readyz?requires=redis", 400},
		{"dashboard", "GET", "/dashboard", 200},
		{"metrics HEAD", "HEAD", "/metrics", 200},
		{"dashboard HEAD", "HEAD", "/dashboard", 200},
		{"openapi HEAD", "HEAD", "/admin/openapi.json", 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			req.Header.SetMethod(tc.method)
			req.SetRequestURI("http://admin.test" + tc.path)
			if err := as.client.DoTimeout(req, resp, 5*time.Second); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode() != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode(), tc.status, resp.Body())
			}
			if tc.status == 401 && (!strings.Contains(string(resp.Body()), `"unauthorized"`) || len(resp.Header.Peek("WWW-Authenticate")) == 0) {
				t.Fatalf("401 without the JSON error or WWW-Authenticate: %s", resp.Body())
			}
		})
	}
	// With the token, an unknown path is a plain 404.
	if code, m := as.call(t, "GET", "/admin/nothing", steerToken, ""); code != 404 || m["error"] != "not_found" {
		t.Errorf("unknown path with the token: %d %v", code, m)
	}
}

// TestAdminCallsTakingNoQuery: a call that takes no query parameter
// refuses one with 400 bad_query, naming it, and does nothing: a guessed
// ?dry=1 must not become a real reload, a ?force=1 on a pause no pause.
func TestAdminCallsTakingNoQuery(t *testing.T) {
	as := newAdminServer(t)
	tests := []struct{ method, path, body string }{
		{"GET", "/admin/status?froce=1", ""},
		{"POST", "/admin/reload?dry=1", ""},
		{"GET", "/admin/activities?all=1", ""},
		{"POST", "/admin/activities/phone-sale/pause?force=1", ""},
		{"POST", "/admin/activities/phone-sale/resume?x=1", ""},
		{"PUT", "/admin/activities/phone-sale/window?x=1", `{"start":"2099-01-01T00:00:00Z"}`},
		{"DELETE", "/admin/activities/phone-sale/window?x=1", ""},
		{"GET", "/admin/activities/phone-sale/stock?fresh=1", ""},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			code, m := as.call(t, tc.method, tc.path, steerToken, tc.body)
			if msg, _ := m["message"].(string); code != 400 || m["error"] != "bad_query" || !strings.Contains(msg, "(this call takes none)") {
				t.Fatalf("%d %v, want 400 bad_query naming the parameter", code, m)
			}
		})
	}
	a := as.activity(t, "phone-sale")
	if ov, _ := a["overrides"].(map[string]any); a["paused"] != false || len(ov) != 0 {
		t.Errorf("a refused call changed the activity: %v", a)
	}
}

// TestAdminBearerScheme: the scheme is case-insensitive (RFC 7235), the
// token is not, and nothing else passes.
func TestAdminBearerScheme(t *testing.T) {
	tok := []byte("0123456789abcdef")
	for h, want := range map[string]bool{
		"Bearer 0123456789abcdef": true, "bearer 0123456789abcdef": true, "BEARER 0123456789abcdef": true,
		"Bearer 0123456789ABCDEF": false, "Bearer 0123456789abcde": false, "Bearer  0123456789abcdef": false,
		"Basic 0123456789abcdef": false, "Bearer": false, "": false, "0123456789abcdef": false,
	} {
		if got := bearerIs([]byte(h), tok); got != want {
			t.Errorf("bearerIs(%q) = %v, want %v", h, got, want)
		}
	}
}

// TestAdminErrorRetryAfter: an admin 503 (the store or Redis not
// answering) says when to try again, as the public port's 503s do; a
// refusal that asking again cannot change (4xx) does not.
func TestAdminErrorRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		status int
		want   string
	}{{503, "1"}, {400, ""}, {404, ""}, {409, ""}} {
		a := &AdminCall{Ctx: &fasthttp.RequestCtx{}}
		a.Error(tc.status, "r", "m")
		if got := string(a.Ctx.Response.Header.Peek("Retry-After")); got != tc.want || a.Ctx.Response.StatusCode() != tc.status {
			t.Errorf("Error(%d): status %d, Retry-After %q, want %q", tc.status, a.Ctx.Response.StatusCode(), got, tc.want)
		}
	}
}
