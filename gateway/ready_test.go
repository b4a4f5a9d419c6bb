package gateway

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/flashgate/flashgate/internal/redistest"
)

type readyAnswer struct {
	Ready  bool              `json:"ready"`
	Checks map[string]string `json:"checks"`
}

func readyz(t *testing.T, ts *testServer) (int, readyAnswer) {
	t.Helper()
	return readyzAt(t, ts, "/readyz")
}

func readyzAt(t *testing.T, ts *testServer, path string) (int, readyAnswer) {
	t.Helper()
	r := ts.do(t, "GET", path)
	var a readyAnswer
	if err := json.Unmarshal(r.Body(), &a); err != nil {
		t.Fatalf("readyz body %q: %v", r.Body(), err)
	}
	if string(r.Header.Peek("Cache-Control")) != "no-store" {
		t.Errorf("readyz Cache-Control %q", r.Header.Peek("Cache-Control"))
	}
	return r.StatusCode(), a
}

// TestReadyzWithoutRedis: a gateway without Redis is ready once its
// config is built and its pages rendered, even while it sheds.
func TestReadyzWithoutRedis(t *testing.T) {
	ts := newTestServer(t, "server: {max_inflight: 1}\n"+baseYAML, Deps{})
	ts.inflight.Add(1) // busy: /readyz is answered before shedding
	defer ts.inflight.Add(-1)
	code, a := readyz(t, ts)
	if code != 200 || !a.Ready || a.Checks["config"] != "ok" || a.Checks["pages"] != "ok" || a.Checks["redis"] != "" {
		t.Fatalf("readyz: %d %+v", code, a)
	}
}

// TestReadyzFollowsRedis: with a real redis-server, /readyz reports its
// PING: "ok", then "unreachable" once it is killed, "ok" again after a
// restart. The instance stays ready meanwhile (every instance shares the
// Redis: a fleet gated on it would leave its load balancer all at once);
// /readyz?require=redis answers 503 while Redis does not.
func TestReadyzFollowsRedis(t *testing.T) {
	srv := redistest.Start(t)
	ts := newTestServer(t, baseYAML, Deps{Redis: redistest.Client(t, srv.Addr())})
	if code, a := readyz(t, ts); code != 200 || a.Checks["redis"] != "ok" {
		t.Fatalf("redis up: %d %+v", code, a)
	}
	srv.Kill()
	waitReady(t, ts, "/readyz?require=redis", 503, "unreachable")
	waitReady(t, ts, "/readyz", 200, "unreachable")
	srv.Restart(t)
	waitReady(t, ts, "/readyz?require=redis", 200, "ok")
	for _, q := range []string{"?require=reids", "?requires=redis", "?require=", "?foo=1", "?require=redis&require=redis", "?require=redis&x=1"} {
		if r := ts.do(t, "GET", "/readyz"+q); r.StatusCode() != 400 || !strings.Contains(string(r.Body()), `"error":"bad_query"`) {
			t.Errorf("readyz%s: %d %s, want 400 bad_query: a probe meant to gate must not silently not", q, r.StatusCode(), r.Body())
		}
	}
}

// waitReady polls path (whose Redis probe is cached for a second) until
// it answers code with the redis check, for up to 15 s.
func waitReady(t *testing.T, ts *testServer, path string, code int, redis string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, a := readyzAt(t, ts, path)
		if c == code && a.Checks["redis"] == redis && a.Ready == (code == 200) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz stayed %d %+v, want %d redis=%s", c, a, code, redis)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestProbesTakeGetAndHead: /healthz and /readyz answer GET, HEAD and
// OPTIONS (HAProxy's default health-check method) alike, with the real
// answer (a misspelt query is still 400); any other method is 405
// method_not_allowed with Allow, as every route answers.
func TestProbesTakeGetAndHead(t *testing.T) {
	ts := newTestServer(t, baseYAML, Deps{})
	if r := ts.do(t, "OPTIONS", "/readyz?requires=redis"); r.StatusCode() != 400 {
		t.Errorf("OPTIONS with a misspelt query: %d, want 400 bad_query", r.StatusCode())
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		for _, tc := range []struct {
			method string
			status int
		}{{"GET", 200}, {"HEAD", 200}, {"OPTIONS", 200}, {"POST", 405}, {"DELETE", 405}, {"PUT", 405}} {
			r := ts.do(t, tc.method, path)
			if r.StatusCode() != tc.status {
				t.Errorf("%s %s: %d, want %d", tc.method, path, r.StatusCode(), tc.status)
			}
			if allow := string(r.Header.Peek("Allow")); tc.status != 200 && allow != "GET, HEAD, OPTIONS" {
				t.Errorf("%s %s: Allow %q", tc.method, path, allow)
			}
			if tc.status == 405 && string(r.Header.Peek(ReasonHeader)) != "method_not_allowed" {
				t.Errorf("%s %s: reason %q", tc.method, path, r.Header.Peek(ReasonHeader))
			}
		}
	}
}
