package gateway

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flashgate/flashgate/conf"
)

// replayConn feeds a server the same request n times, one per Read as a
// client that waits for each answer sends them, and counts the Write
// calls the answers take: each is a write(2) on a real socket.
type replayConn struct {
	req           []byte
	pos, left     int // read position in req; requests not yet started
	writes, bytes int
}

func (c *replayConn) Read(p []byte) (int, error) {
	if c.pos == 0 {
		if c.left == 0 {
			return 0, io.EOF
		}
		c.left--
	}
	n := copy(p, c.req[c.pos:]) // a short read (ReduceMemoryUsage peeks 1 byte) leaves the rest
	if c.pos += n; c.pos == len(c.req) {
		c.pos = 0
	}
	return n, nil
}

func (c *replayConn) Write(p []byte) (int, error) {
	c.writes++
	c.bytes += len(p)
	return len(p), nil
}

func (c *replayConn) Close() error                     { return nil }
func (c *replayConn) LocalAddr() net.Addr              { return benchAddr }
func (c *replayConn) RemoteAddr() net.Addr             { return benchAddr }
func (c *replayConn) SetDeadline(time.Time) error      { return nil }
func (c *replayConn) SetReadDeadline(time.Time) error  { return nil }
func (c *replayConn) SetWriteDeadline(time.Time) error { return nil }

// BenchmarkConn is the whole per-request cost below the network: fasthttp
// parsing the request, the handler, and fasthttp serialising the answer
// into its write buffer, over one keep-alive connection. writes/op is how
// many write(2) calls each answer would take. The variants are the
// listener settings server.go chooses between (results in its comments).
func BenchmarkConn(b *testing.B) {
	s := benchServer(b, `
routes:
  - path: /p/{product}
    action: {type: static, page: "{product}"}
`)
	plain := []byte("GET /p/phone-x HTTP/1.1\r\nHost: shop.example\r\nUser-Agent: wrk\r\nAccept: */*\r\n\r\n")
	gzip := []byte("GET /p/phone-x HTTP/1.1\r\nHost: shop.example\r\nUser-Agent: wrk\r\nAccept-Encoding: gzip\r\n\r\n")
	variants := []struct {
		name    string
		set     func(srv *fasthttp.Server)
		tracked bool // served as a listener's plain TCP connection is: bodies by writev (zerocopy.go)
	}{
		{"as configured", func(*fasthttp.Server) {}, true},
		{"copied into a 4KiB buffer (fasthttp default)", func(*fasthttp.Server) {}, false},
		{"copied, derived TLS buffer", func(srv *fasthttp.Server) {
			srv.WriteBufferSize = WriteBufferSize(conf.Server{TLS: conf.TLS{CertFile: "c", KeyFile: "k"}}, s.Instance())
		}, false},
		{"DisableHeaderNamesNormalizing", func(srv *fasthttp.Server) { srv.DisableHeaderNamesNormalizing = true }, true},
		{"ReduceMemoryUsage", func(srv *fasthttp.Server) { srv.ReduceMemoryUsage = true }, true},
	}
	for _, page := range []struct {
		name string
		req  []byte
	}{{"plain", plain}, {"gzip", gzip}} {
		for _, v := range variants {
			b.Run(page.name+"/"+v.name, func(b *testing.B) {
				srv := s.httpServer(s.Instance().Config.Server)
				v.set(srv)
				c := &replayConn{req: page.req, left: b.N}
				var conn net.Conn = c
				if v.tracked {
					// In memory the writev falls back to one write per
					// buffer: writes/op 2 here is one writev on a socket.
					conn = &trackedConn{Conn: c, t: newConnTracker(time.Hour), vectored: true}
				}
				b.ReportAllocs()
				b.ResetTimer()
				if err := srv.ServeConn(conn); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(c.writes)/float64(b.N), "writes/op")
				b.ReportMetric(float64(c.bytes)/float64(b.N), "B/resp")
			})
		}
	}
}
