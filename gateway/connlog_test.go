package gateway

import (
	"bufio"
	"bytes"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"
)

type countInc struct{ n atomic.Int64 }

func (c *countInc) Inc() { c.n.Add(1) }

// TestFasthttpLogLimitsConnectionErrors: every per-connection error is
// counted, at most one is logged per connLogEvery with the number left
// out, and fasthttp's other lines are logged as they come.
func TestFasthttpLogLimitsConnectionErrors(t *testing.T) {
	var buf bytes.Buffer
	now := time.Unix(1000, 0)
	l := newFasthttpLog(slog.New(slog.NewTextHandler(&buf, nil)), func() time.Time { return now })
	c := &countInc{}
	l.count = c
	connErr := func() { l.Printf("error when serving connection %q<->%q: %v", "a", "b", "cannot parse") }
	lines := func() []string { return strings.Split(strings.TrimSpace(buf.String()), "\n") }
	for range 100 {
		connErr()
	}
	if got := lines(); len(got) != 1 || !strings.Contains(got[0], "not_logged_since_last=0") {
		t.Fatalf("100 errors in an instant logged %d lines: %v", len(got), got)
	}
	now = now.Add(connLogEvery - time.Millisecond)
	connErr()
	if got := lines(); len(got) != 1 {
		t.Fatalf("logged again before %v: %v", connLogEvery, got)
	}
	now = now.Add(time.Millisecond)
	connErr()
	if got := lines(); len(got) != 2 || !strings.Contains(got[1], "not_logged_since_last=100") {
		t.Fatalf("after %v: %v", connLogEvery, got)
	}
	if c.n.Load() != 102 {
		t.Errorf("counted %d, want 102", c.n.Load())
	}
	l.Printf("Permanent error when accepting new connections: %v", "boom")
	l.Printf("Permanent error when accepting new connections: %v", "boom")
	if got := lines(); len(got) != 4 || c.n.Load() != 102 {
		t.Errorf("other lines not logged as they come, or counted: %v", got)
	}
}

// TestGarbageRequestNotLogged: a real fasthttp server with this logger,
// sent garbage and an oversized body, answers them, counts each and logs
// one line, not one per connection: the test holds fasthttp's own wording
// to connErrorPrefix.
func TestGarbageRequestNotLogged(t *testing.T) {
	logs := &lockedBuffer{}
	l := newFasthttpLog(slog.New(slog.NewJSONHandler(logs, nil)), nil)
	c := &countInc{}
	l.count = c
	ln := fasthttputil.NewInmemoryListener()
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {}, Logger: l, MaxRequestBodySize: 1024}
	go func() { _ = srv.Serve(ln) }()
	defer func() { _ = srv.Shutdown() }()
	for _, req := range []string{"GARBAGE\r\n\r\n", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\n\r\n" + strings.Repeat("a", 70000), "GARBAGE\r\n\r\n"} {
		conn, err := ln.Dial()
		if err != nil {
			t.Fatal(err)
		}
		go func() { _, _ = io.WriteString(conn, req) }()
		resp, _ := io.ReadAll(conn)
		_ = conn.Close()
		if !strings.HasPrefix(string(resp), "HTTP/1.1 4") {
			t.Fatalf("%.20q answered %.40q", req, resp)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for c.n.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if c.n.Load() != 3 {
		t.Fatalf("counted %d connection errors, want 3", c.n.Load())
	}
	if got := logs.lines(t); len(got) != 1 || got[0]["error"] == nil {
		t.Errorf("%d log lines for 3 bad connections, want 1: %v", len(got), got)
	}
}

// TestConnectionErrorsLogNoRequestBytes: fasthttp quotes the bytes it
// could not parse in its error, and those hold paths, cookies and order
// tokens; the logged line keeps the peer addresses and the reason only.
func TestConnectionErrorsLogNoRequestBytes(t *testing.T) {
	raws := []string{
		"POST /api/buy/phone-sale/SECRETSIG HTTP/1.1\r\nHost: x\r\nCookie: fg_session=eyJSECRETJWT\r\nX-Order-Token: AQVSECRETTOKEN\r\nbad header line\r\n\r\n",
		"GET /p/SECRETSIG HTTP/1.1\r\nHost: x\r\nContent-Length: nope-SECRET\r\n\r\n",
		"SECRET\r\n\r\n",
	}
	for _, raw := range raws {
		var req fasthttp.Request
		err := req.Read(bufio.NewReader(strings.NewReader(raw)))
		if err == nil {
			t.Fatalf("%q parsed", raw)
		}
		var buf bytes.Buffer
		l := newFasthttpLog(slog.New(slog.NewTextHandler(&buf, nil)), nil)
		l.count = &countInc{}
		l.Printf("error when serving connection %q<->%q: %v", "127.0.0.1:8080", "127.0.0.1:50000", err)
		l.Printf("some other fasthttp line: %v", err)
		got := buf.String()
		if strings.Contains(got, "SECRET") {
			t.Errorf("request bytes logged:\n%s\n(fasthttp's error: %v)", got, err)
		}
		if !strings.Contains(got, `127.0.0.1:50000`) {
			t.Errorf("peer address lost: %s", got)
		}
	}
	if got := redactQuoted(`a "b\"c" d "e"`); got != `a "…" d "…"` {
		t.Errorf("redactQuoted = %q", got)
	}
}

// TestEveryUnreadableRequestCounted: each kind of request fasthttp cannot
// read is answered in JSON with its reason and counted once in
// flashgate_connection_errors_total: 400 and 413 through the logger,
// 431 and 408 (which fasthttp does not log) by errorHandler. Both
// listeners use the two.
func TestEveryUnreadableRequestCounted(t *testing.T) {
	l := newFasthttpLog(slog.New(slog.NewJSONHandler(io.Discard, nil)), nil)
	ln, err := net.Listen("tcp4", "127.0.0.1:0") // a real socket: its deadline is what makes the 408
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {}, Logger: l, ErrorHandler: errorHandler,
		MaxRequestBodySize: 1024, ReadBufferSize: 1024, ReadTimeout: 200 * time.Millisecond}
	go func() { _ = srv.Serve(ln) }()
	defer func() { _ = srv.Shutdown() }()
	tests := []struct {
		name, req, status, reason string
	}{
		{"garbage", "GARBAGE\r\n\r\n", "400", "bad_request"},
		{"body too large", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\n\r\n" + strings.Repeat("a", 2000), "413", "body_too_large"},
		{"headers too large", "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 4000) + "\r\n\r\n", "431", "header_too_large"},
		{"never finished", "GET / HTTP/1.1\r\nHost: x\r\n", "408", "request_timeout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := value(connErrorsTotal)
			conn, err := net.Dial("tcp4", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			go func() { _, _ = io.WriteString(conn, tc.req) }()
			resp, _ := io.ReadAll(conn)
			_ = conn.Close()
			if !strings.HasPrefix(string(resp), "HTTP/1.1 "+tc.status) || !strings.Contains(string(resp), `{"error":"`+tc.reason+`"`) ||
				!strings.Contains(string(resp), "X-Flashgate-Reason: "+tc.reason) {
				t.Fatalf("answered %.300q", resp)
			}
			deadline := time.Now().Add(5 * time.Second)
			for value(connErrorsTotal) < before+1 && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			time.Sleep(20 * time.Millisecond) // a second count, if any, lands too
			if got := value(connErrorsTotal) - before; got != 1 {
				t.Errorf("counted %v times, want 1", got)
			}
		})
	}
}
