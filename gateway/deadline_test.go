package gateway

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/flashgate/flashgate/stock"
)

func TestDeadlineTick(t *testing.T) {
	for _, tc := range []struct {
		timeouts []time.Duration
		want     time.Duration
	}{
		{[]time.Duration{5 * time.Second, 5 * time.Second, time.Minute}, maxDeadlineTick},
		{[]time.Duration{300 * time.Millisecond, 5 * time.Second}, 30 * time.Millisecond},
		{[]time.Duration{time.Millisecond}, minDeadlineTick},
		{[]time.Duration{0, 0}, maxDeadlineTick},
		{nil, maxDeadlineTick},
	} {
		if got := deadlineTick(tc.timeouts...); got != tc.want {
			t.Errorf("deadlineTick(%v) = %v, want %v", tc.timeouts, got, tc.want)
		}
	}
}

// TestJanitorEndsLateCalls: a Read and a Write blocked past the deadline
// fasthttp set end with os.ErrDeadlineExceeded, no earlier than the
// deadline and within a few ticks of it (generous: the machine is
// shared); afterwards the socket has no deadline left, so the next call
// under a fresh deadline works.
func TestJanitorEndsLateCalls(t *testing.T) {
	const wait, tick = 50 * time.Millisecond, 5 * time.Millisecond
	for _, write := range []bool{false, true} {
		name := map[bool]string{false: "read", true: "write"}[write]
		t.Run(name, func(t *testing.T) {
			server, client := net.Pipe()
			defer client.Close()
			tr := newConnTracker(tick)
			c := &trackedConn{Conn: server, t: tr}
			c.started = true
			c.begun.Store(true)
			tr.add(c)
			defer c.Close()
			call := func() error {
				if write {
					_, err := c.Write([]byte("x"))
					return err
				}
				_, err := c.Read(make([]byte, 1))
				return err
			}
			start := time.Now()
			if write {
				_ = c.SetWriteDeadline(start.Add(wait))
			} else {
				_ = c.SetReadDeadline(start.Add(wait))
			}
			err := call()
			took := time.Since(start)
			t.Logf("%s past a %v deadline ended after %v (tick %v)", name, wait, took, tick)
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("%s past its deadline: %v, want os.ErrDeadlineExceeded", name, err)
			}
			if took < wait || took > wait+2*time.Second {
				t.Errorf("%s ended after %v, want %v plus at most a few ticks", name, took, wait)
			}
			// A fresh deadline: the peer answers, the call succeeds.
			if write {
				_ = c.SetWriteDeadline(time.Now().Add(time.Minute))
				go func() { _, _ = client.Read(make([]byte, 1)) }()
			} else {
				_ = c.SetReadDeadline(time.Now().Add(time.Minute))
				go func() { _, _ = client.Write([]byte("y")) }()
			}
			if err := call(); err != nil {
				t.Fatalf("%s after the poke, under a fresh deadline: %v", name, err)
			}
		})
	}
}

// TestJanitorStops: the janitor exits once the last connection closes,
// and the next connection starts another.
func TestJanitorStops(t *testing.T) {
	tr := newConnTracker(time.Millisecond)
	for range 2 {
		server, client := net.Pipe()
		c := &trackedConn{Conn: server, t: tr}
		tr.add(c)
		_ = c.Close()
		_ = client.Close()
		deadline := time.Now().Add(5 * time.Second)
		for {
			tr.mu.Lock()
			running := tr.running
			tr.mu.Unlock()
			if !running {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("janitor still running 5 s after the last connection closed")
			}
			time.Sleep(time.Millisecond)
		}
	}
}

// TestListenerTimeouts: through a real listener, the server's timeouts
// still hold with the janitor keeping them. A keep-alive connection that
// sends a request every 80 ms for longer than read_timeout (200 ms) keeps
// working: each request gets a fresh deadline, and no stale one ends it.
// A connection idle after its request is closed after idle_timeout, and
// one that sends half a header is answered or closed after read_timeout,
// each within generous bounds.
func TestListenerTimeouts(t *testing.T) {
	const readTimeout, idleTimeout = 200 * time.Millisecond, 300 * time.Millisecond
	s, dial := servePageTCP(t, "{read_timeout: 200ms, write_timeout: 200ms, idle_timeout: 300ms}", stock.NewMemory())
	t.Cleanup(func() { _ = s.srv.Shutdown() })
	get := func(c net.Conn, br *bufio.Reader) {
		t.Helper()
		if _, err := io.WriteString(c, "GET /p/phone-x HTTP/1.1\r\nHost: shop.test\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("GET: %d", resp.StatusCode)
		}
	}
	// closedAfter is how long c took to end after start (EOF or reset).
	closedAfter := func(c net.Conn, br *bufio.Reader, start time.Time) time.Duration {
		t.Helper()
		_, err := io.Copy(io.Discard, br)
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatal("the server did not close the connection within 10 s")
		}
		return time.Since(start)
	}

	t.Run("keep-alive longer than read_timeout", func(t *testing.T) {
		c := dial()
		br := bufio.NewReader(c)
		for range 8 { // 8 × 80 ms = 640 ms, over 3 read_timeouts
			get(c, br)
			time.Sleep(80 * time.Millisecond)
		}
		get(c, br)
	})
	t.Run("idle", func(t *testing.T) {
		c := dial()
		br := bufio.NewReader(c)
		get(c, br)
		start := time.Now()
		took := closedAfter(c, br, start)
		t.Logf("idle connection closed after %v (idle_timeout %v)", took, idleTimeout)
		if took < idleTimeout-20*time.Millisecond || took > idleTimeout+3*time.Second {
			t.Errorf("idle connection closed after %v, want about idle_timeout (%v)", took, idleTimeout)
		}
	})
	t.Run("half a header", func(t *testing.T) {
		c := dial()
		br := bufio.NewReader(c)
		start := time.Now()
		if _, err := io.WriteString(c, "GET /p/phone-x HTTP/1.1\r\nHost: sh"); err != nil {
			t.Fatal(err)
		}
		took := closedAfter(c, br, start)
		t.Logf("half-sent request ended after %v (read_timeout %v)", took, readTimeout)
		if took < readTimeout-20*time.Millisecond || took > readTimeout+3*time.Second {
			t.Errorf("half-sent request ended after %v, want about read_timeout (%v)", took, readTimeout)
		}
	})
}

// BenchmarkSocketDeadlines is what the janitor saves per keep-alive
// request: the three deadlines fasthttp sets, on a real TCP connection.
func BenchmarkSocketDeadlines(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			_, _ = io.Copy(io.Discard, c)
		}
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	b.ReportAllocs()
	for b.Loop() {
		_ = c.SetReadDeadline(time.Now().Add(time.Minute))
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	}
}

// TestPercentEncodedPath: a route matches the decoded path, so a client
// that percent-encodes a parameter (encodeURIComponent) reaches the
// same page or ticket as one that does not.
func TestPercentEncodedPath(t *testing.T) {
	s, dial := servePageTCP(t, "{}", stock.NewMemory())
	t.Cleanup(func() { _ = s.srv.Shutdown() })
	for _, path := range []string{"/p/phone-x", "/p/phone%2Dx", "/p/%70hone-x"} {
		c := dial()
		if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: shop.test\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("GET %s: %d, want 200", path, resp.StatusCode)
		}
	}
}
