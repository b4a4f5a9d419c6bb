package gateway

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flashgate/flashgate/stock"
)

// TestZeroCopyOverTCP: on a real socket the product page (plain and
// gzip, keep-alive, pipelined, HEAD, 304) and a large rejection page
// come out byte for byte as on the copying path of an in-memory
// connection, through the 4 KiB write buffer a plain listener now gets.
func TestZeroCopyOverTCP(t *testing.T) {
	s, dial := servePageTCP(t, "{}", stock.NewMemory())
	t.Cleanup(func() { _ = s.srv.Shutdown() })
	if s.WriteBuffer() != 4096 {
		t.Fatalf("write buffer %d on a plain listener, want 4096", s.WriteBuffer())
	}
	// The same pages through an in-memory connection: the copying path.
	ref := newTestServer(t, `
routes:
  - path: /p/{product}
    action: {type: static, page: "{product}"}
`, Deps{})
	page := struct{ Body, Gzip []byte }{ref.do(t, "GET", "/p/phone-x").Body(), ref.do(t, "GET", "/p/phone-x", "Accept-Encoding", "gzip").Body()}
	if len(page.Body) < 2*s.WriteBuffer() || len(page.Gzip) < zeroCopyMin || bytes.Equal(page.Body, page.Gzip) {
		t.Fatalf("test page: %d plain and %d gzip bytes: want the plain > twice the buffer, the gzip >= %d", len(page.Body), len(page.Gzip), zeroCopyMin)
	}
	c := dial()
	br := bufio.NewReader(c)
	read := func(head bool) *fasthttp.Response {
		t.Helper()
		resp := new(fasthttp.Response)
		resp.SkipBody = head
		if err := resp.Read(br); err != nil {
			t.Fatal(err)
		}
		return resp
	}
	send := func(reqs ...string) {
		t.Helper()
		var b []byte
		for _, r := range reqs {
			b = append(b, r...)
		}
		if _, err := c.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	get := "GET /p/phone-x HTTP/1.1\r\nHost: x\r\n\r\n"
	gz := "GET /p/phone-x HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n"
	for i := 0; i < 3; i++ { // keep-alive: the connection's one stream is reused
		send(get)
		if r := read(false); r.StatusCode() != 200 || !bytes.Equal(r.Body(), page.Body) || r.Header.ContentLength() != len(page.Body) {
			t.Fatalf("plain page %d: status %d, %d bytes, Content-Length %d; want 200 and the page's %d", i, r.StatusCode(), len(r.Body()), r.Header.ContentLength(), len(page.Body))
		}
	}
	send(gz, get, gz) // pipelined: three answers in order
	for i, want := range [][]byte{page.Gzip, page.Body, page.Gzip} {
		if r := read(false); r.StatusCode() != 200 || !bytes.Equal(r.Body(), want) {
			t.Fatalf("pipelined answer %d: status %d, %d bytes, want %d", i, r.StatusCode(), len(r.Body()), len(want))
		}
	}
	send("HEAD /p/phone-x HTTP/1.1\r\nHost: x\r\n\r\n")
	r := read(true)
	if r.StatusCode() != 200 || r.Header.ContentLength() != len(page.Body) {
		t.Fatalf("HEAD: status %d, Content-Length %d", r.StatusCode(), r.Header.ContentLength())
	}
	etag := string(r.Header.Peek("ETag"))
	send("GET /p/phone-x HTTP/1.1\r\nHost: x\r\nIf-None-Match: " + etag + "\r\n\r\n")
	if r := read(true); r.StatusCode() != 304 {
		t.Fatalf("conditional GET: %d, want 304", r.StatusCode())
	}
	// No allocation on either side once warm: the server's (a connection's
	// one stream, the writev's iovecs kept by the socket) and this loop's.
	reqb, resp := []byte(get), new(fasthttp.Response)
	if allocs := testing.AllocsPerRun(200, func() {
		if _, err := c.Write(reqb); err != nil {
			t.Fatal(err)
		}
		if err := resp.Read(br); err != nil || len(resp.Body()) != len(page.Body) {
			t.Fatalf("page: %v, %d bytes", err, len(resp.Body()))
		}
	}); allocs != 0 {
		t.Errorf("%.1f allocations per page over TCP, want 0", allocs)
	}
	send("GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n", get) // the 404 page, then the page again
	if r := read(false); r.StatusCode() != 404 || len(r.Body()) == 0 {
		t.Fatalf("404: status %d, %d bytes", r.StatusCode(), len(r.Body()))
	}
	if r := read(false); !bytes.Equal(r.Body(), page.Body) {
		t.Fatalf("the page after the 404: %d bytes", len(r.Body()))
	}
}

// recordConn records each Write's bytes, aliasing them, so a test can
// tell a body that was sent from its own memory from one copied first.
type recordConn struct {
	net.Conn
	writes [][]byte
	fail   error // returned by the Write that carries the body
}

func (c *recordConn) Write(p []byte) (int, error) {
	c.writes = append(c.writes, p)
	if c.fail != nil && len(c.writes) == 2 {
		return len(p) / 2, c.fail
	}
	return len(p), nil
}

// TestBodyStream: through fasthttp's buffer over its own connection the
// body leaves from the page's memory, right after the buffered headers;
// through any other writer it is written plainly; a failed send is
// reported.
func TestBodyStream(t *testing.T) {
	body := bytes.Repeat([]byte("p"), 3*zeroCopyMin)
	respond := func(c *trackedConn, w io.Writer) (*bytes.Buffer, error) {
		var resp fasthttp.Response
		if !c.SendBody(&resp, body) {
			t.Fatal("SendBody refused a large body on a vectored connection")
		}
		bw := bufio.NewWriterSize(w, 4096)
		err := resp.Write(bw)
		if err == nil {
			err = bw.Flush()
		}
		return nil, err
	}

	t.Run("own buffer: headers then the body itself", func(t *testing.T) {
		rec := &recordConn{}
		c := &trackedConn{Conn: rec, t: newConnTracker(time.Hour), vectored: true}
		if _, err := respond(c, c); err != nil {
			t.Fatal(err)
		}
		// net.Buffers over a non-TCP conn writes each buffer in turn; on
		// TCP the two are one writev.
		if len(rec.writes) != 2 || !bytes.HasPrefix(rec.writes[0], []byte("HTTP/1.1 200")) || &rec.writes[1][0] != &body[0] || len(rec.writes[1]) != len(body) {
			t.Fatalf("writes %d: want the headers, then the body from its own memory", len(rec.writes))
		}
		if c.stream.body != nil || c.stream.armed {
			t.Fatal("the stream keeps the body after the answer")
		}
	})
	t.Run("another writer: copied", func(t *testing.T) {
		c := &trackedConn{Conn: &recordConn{}, t: newConnTracker(time.Hour), vectored: true}
		var out bytes.Buffer
		if _, err := respond(c, &out); err != nil {
			t.Fatal(err)
		}
		var resp fasthttp.Response
		if err := resp.Read(bufio.NewReader(&out)); err != nil || !bytes.Equal(resp.Body(), body) {
			t.Fatalf("read back: %v, %d bytes", err, len(resp.Body()))
		}
		if c.stream.armed {
			t.Fatal("left armed")
		}
	})
	t.Run("failed send", func(t *testing.T) {
		boom := errors.New("reset")
		rec := &recordConn{fail: boom}
		c := &trackedConn{Conn: rec, t: newConnTracker(time.Hour), vectored: true}
		if _, err := respond(c, c); !errors.Is(err, boom) {
			t.Fatalf("err %v, want %v", err, boom)
		}
	})
	t.Run("not vectored, or small: refused", func(t *testing.T) {
		var resp fasthttp.Response
		if (&trackedConn{Conn: &recordConn{}}).SendBody(&resp, body) {
			t.Fatal("a TLS (not vectored) connection took the body")
		}
		if (&trackedConn{Conn: &recordConn{}, vectored: true}).SendBody(&resp, body[:zeroCopyMin-1]) {
			t.Fatal("a small body was taken")
		}
		if resp.IsBodyStream() {
			t.Fatal("a refusal touched the response")
		}
	})
}
