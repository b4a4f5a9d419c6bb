package gateway

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/flashgate/flashgate/stock"
)

// TestShutdownIdleConnection: Shutdown with a connection that never sent
// a byte returns after about DrainGrace, not after read_timeout (20 s) or
// fasthttp's 5 s; a request half sent when the drain began still gets its
// answer, however long after DrainGrace it completes.
func TestShutdownIdleConnection(t *testing.T) {
	st := stock.NewMemory()
	s, dial := servePageTCP(t, "{read_timeout: 20s}", st)
	idle, midSend := dial(), dial()
	if _, err := io.WriteString(midSend, "GET /p/phone-x HTTP/1.1\r\nHost: shop.test\r\n"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // both accepted, the half request read

	start := time.Now()
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		done <- s.Shutdown(ctx)
	}()
	time.Sleep(2 * DrainGrace)
	if _, err := io.WriteString(midSend, "\r\n"); err != nil {
		t.Fatal(err)
	}
	_ = midSend.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(midSend), nil)
	if err != nil {
		t.Fatalf("half-sent request lost in the drain: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("half-sent request: %d, want 200", resp.StatusCode)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Shutdown still waiting after 15s")
	}
	// A correctness bound with room for -race on 2 cores: 2×DrainGrace of
	// waiting for the client, then fasthttp's 100 ms poll.
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("Shutdown took %v with an idle connection open, want well under read_timeout", took)
	}
	_ = idle.SetReadDeadline(time.Now().Add(5 * time.Second))
	if b, err := io.ReadAll(idle); err != nil || len(b) != 0 {
		t.Errorf("idle connection: read %q, %v; want a plain close", b, err)
	}
	_ = st.Close()
}

// TestTrackedConnDrain: before the first byte, a drain gives the socket
// its deadline and the read ends there as a close; the first byte takes
// the drain's deadline off again; after it, a drain changes nothing. The
// deadlines fasthttp sets never reach the socket.
func TestTrackedConnDrain(t *testing.T) {
	server, client := net.Pipe()
	defer client.Close()
	tr := newConnTracker(time.Hour)
	c := &trackedConn{Conn: server, t: tr}
	tr.add(c)
	defer c.Close()
	far := time.Now().Add(time.Hour)
	if err := c.SetReadDeadline(far); err != nil || c.readDue.Load() != far.UnixNano() {
		t.Fatalf("SetReadDeadline: %v, recorded %d", err, c.readDue.Load())
	}
	tr.drain(time.Millisecond)
	// Nothing sent: the read ends at the drain deadline, as a close.
	if n, err := c.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("Read before any byte after drain = %d, %v; want 0, EOF", n, err)
	}

	// A second connection whose client sends during a drain.
	tr2 := newConnTracker(time.Hour)
	tr2.drain(time.Minute)
	server2, client2 := net.Pipe()
	defer client2.Close()
	rec := &deadlineConn{Conn: server2}
	c2 := &trackedConn{Conn: rec, t: tr2}
	tr2.add(c2)
	if !rec.last.Before(far) || rec.last.IsZero() {
		t.Fatalf("deadline before the first byte during a drain = %v, want the drain's (before %v)", rec.last, far)
	}
	if err := c2.SetReadDeadline(far); err != nil || !rec.last.Before(far) {
		t.Fatalf("the server's deadline reached the socket: %v, %v", err, rec.last)
	}
	go func() { _, _ = client2.Write([]byte("GET")) }()
	if n, err := c2.Read(make([]byte, 3)); n == 0 || err != nil {
		t.Fatalf("Read of a sending client during the drain = %d, %v", n, err)
	}
	if !rec.last.IsZero() {
		t.Errorf("socket deadline after the first byte = %v, want none (the janitor keeps the server's)", rec.last)
	}
	tr2.drain(time.Millisecond) // a drain now leaves it alone
	if !rec.last.IsZero() {
		t.Errorf("socket deadline of a started connection after a drain = %v, want none", rec.last)
	}
	if err := c2.Close(); err != nil {
		t.Fatal(err)
	}
	tr2.mu.Lock()
	defer tr2.mu.Unlock()
	if len(tr2.conns) != 0 {
		t.Error("closed connection still tracked")
	}
}

// deadlineConn records the last read deadline set on it.
type deadlineConn struct {
	net.Conn
	last time.Time
}

func (d *deadlineConn) SetReadDeadline(t time.Time) error {
	d.last = t
	return d.Conn.SetReadDeadline(t)
}

// nopConn is a connection whose calls do nothing, so a benchmark over it
// measures only what trackedConn adds.
type nopConn struct{ net.Conn }

func (nopConn) Read(p []byte) (int, error)  { return len(p), nil }
func (nopConn) Write(p []byte) (int, error) { return len(p), nil }

// BenchmarkTrackedConnRequest is what tracking adds per keep-alive
// request: the three deadlines fasthttp sets, a read and a write.
func BenchmarkTrackedConnRequest(b *testing.B) {
	tr := newConnTracker(time.Hour)
	c := &trackedConn{Conn: nopConn{}, t: tr}
	tr.conns[c] = struct{}{}
	buf := make([]byte, 4096)
	deadline := time.Now().Add(time.Minute)
	b.ReportAllocs()
	for b.Loop() {
		_ = c.SetReadDeadline(deadline)
		_, _ = c.Read(buf)
		_ = c.SetReadDeadline(deadline)
		_ = c.SetWriteDeadline(deadline)
		_, _ = c.Write(buf)
	}
}
