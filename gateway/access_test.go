package gateway

import (
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/flashgate/flashgate/internal/syncbuf"
)

// lockedBuffer is the server's log, read back as JSON lines.
type lockedBuffer struct{ syncbuf.Buffer }

func (l *lockedBuffer) lines(t *testing.T) []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not JSON: %q", line)
		}
		out = append(out, m)
	}
	return out
}

const accessYAML = `
activities:
  - {id: phone-sale, product: phone-x, stock: 3, shards: 2}
routes:
  - path: /p/{product}
    action: {type: static, page: "{product}"}
  - name: buy
    method: POST
    path: /buy/{activity}
    filters: [{test_hold: {}}]
    action: {type: json, endpoint: stock_decision}
  - path: /reject
    filters: [{test_verdict: {do: reject}}]
    action: {type: static, page: mug}
`

const (
	secretJWT    = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2VjcmV0LXNpZ25hdHVyZQ"
	secretToken  = "ordtok-SECRET-0123456789"
	secretCookie = "session-SECRET-cookie"
)

// TestAccessLog: with log.access_every 1 each request is one JSON line
// with the documented fields, and no line holds a token, JWT, cookie,
// query or path, whatever the request carried.
func TestAccessLog(t *testing.T) {
	var buf lockedBuffer
	ts := newTestServer(t, "log: {access_every: 1}\n"+accessYAML, Deps{AccessLog: slog.New(slog.NewJSONHandler(&buf, nil))})
	secrets := []string{"Authorization", "Bearer " + secretJWT, "X-Order-Token", secretToken, "Cookie", "s=" + secretCookie}
	ts.do(t, "GET", "/p/phone-x?token="+secretToken, secrets...)
	ts.do(t, "POST", "/buy/phone-sale?t="+secretToken, append([]string{"X-User-Id", "alice", "X-Request-Id", "client-id_1"}, secrets...)...)
	ts.do(t, "GET", "/reject", append([]string{"X-Request-Id", secretJWT}, secrets...)...)
	ts.do(t, "GET", "/h/"+secretToken, secrets...)

	lines := buf.lines(t)
	if len(lines) != 4 {
		t.Fatalf("%d lines, want 4:\n%s", len(lines), buf.String())
	}
	tests := []struct {
		route, reason, user, id string
		status                  float64
	}{
		{"GET /p/{product}", "", "", "", 200},
		{"buy", "", "alice", "client-id_1", 200},
		{"GET /reject", "teapot", "", "", 418},
		{"-", "not_found", "", "", 404},
	}
	for i, tc := range tests {
		l := lines[i]
		if l["msg"] != "access" || l["route"] != tc.route || l["status"] != tc.status || l["reason"] != tc.reason || l["user"] != tc.user {
			t.Errorf("line %d: %v, want %+v", i, l, tc)
		}
		for _, k := range []string{"time", "request_id", "duration", "client_ip"} {
			if _, ok := l[k]; !ok {
				t.Errorf("line %d: no %s", i, k)
			}
		}
		id, _ := l["request_id"].(string)
		if tc.id != "" && id != tc.id || tc.id == "" && (len(id) < 10 || !wellFormedID([]byte(id))) {
			t.Errorf("line %d: request_id %q, want %q or a generated one", i, id, tc.id)
		}
	}
	all := buf.String()
	for _, s := range []string{secretJWT, "eyJ", secretToken, secretCookie, "SECRET", "/h/", "token="} {
		if strings.Contains(all, s) {
			t.Errorf("the access log holds %q:\n%s", s, all)
		}
	}
}

// TestAccessLogSampled: access_every 3 logs one request in three.
func TestAccessLogSampled(t *testing.T) {
	var buf lockedBuffer
	ts := newTestServer(t, "log: {access_every: 3}\n"+accessYAML, Deps{AccessLog: slog.New(slog.NewJSONHandler(&buf, nil))})
	for i := 0; i < 9; i++ {
		ts.do(t, "GET", "/p/phone-x")
	}
	if n := len(buf.lines(t)); n != 3 {
		t.Fatalf("%d lines for 9 requests at access_every 3, want 3", n)
	}
}

func TestWellFormedID(t *testing.T) {
	tests := []struct {
		id string
		ok bool
	}{
		{"abc-123_X", true},
		{strings.Repeat("a", 64), true},
		{strings.Repeat("a", 65), false},
		{"", false},
		{"a.b.c", false},
		{"with space", false},
		{"quote\"", false},
	}
	for _, tc := range tests {
		if got := wellFormedID([]byte(tc.id)); got != tc.ok {
			t.Errorf("%q: %v, want %v", tc.id, got, tc.ok)
		}
	}
}
