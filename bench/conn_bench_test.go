package bench

import (
	"io"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/filters/token"
)

// replayConn feeds a server a list of requests in turn, one per Read as
// a client that waits for each answer sends them, until n were sent; it
// counts the Write calls (each a write(2) on a real socket).
type replayConn struct {
	reqs    [][]byte
	i, left int
	writes  int
}

func (c *replayConn) Read(p []byte) (int, error) {
	if c.left == 0 {
		return 0, io.EOF
	}
	c.left--
	r := c.reqs[c.i]
	if c.i++; c.i == len(c.reqs) {
		c.i = 0
	}
	return copy(p, r), nil
}

func (c *replayConn) Write(p []byte) (int, error)      { c.writes++; return len(p), nil }
func (c *replayConn) Close() error                     { return nil }
func (c *replayConn) LocalAddr() net.Addr              { return peer }
func (c *replayConn) RemoteAddr() net.Addr             { return peer }
func (c *replayConn) SetDeadline(time.Time) error      { return nil }
func (c *replayConn) SetReadDeadline(time.Time) error  { return nil }
func (c *replayConn) SetWriteDeadline(time.Time) error { return nil }

// BenchmarkConn is each make bench scenario's whole per-request cost
// below the network, over one keep-alive connection of the bench config:
// fasthttp parsing the request as wrk sends it, the handler, fasthttp
// serialising the answer. Its ns/op is noisy on a shared machine;
// `valgrind --tool=callgrind` counts its instructions repeatably (the
// README's page-speed section has the command).
func BenchmarkConn(b *testing.B) {
	s := server(b, "")
	const host = "Host: 127.0.0.1:8088\r\n"
	page := func(extra string) [][]byte {
		return [][]byte{[]byte("GET /p/phone-x HTTP/1.1\r\n" + host + extra + "\r\n")}
	}
	cases := []struct {
		name string
		reqs [][]byte
	}{
		{"page_plain", page("")},
		{"page_gzip", page("Accept-Encoding: gzip\r\n")},
		{"soldout", soldOutRequests(b, host, 50000)},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			c := &replayConn{reqs: tc.reqs, left: b.N}
			b.ReportAllocs()
			b.ResetTimer()
			if err := s.ServeConn(c); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(c.writes)/float64(b.N), "writes/op")
		})
	}
}

// soldOutRequests are n purchases of the sold-out activity through the
// full chain by distinct users, each with a valid order token issued 2 s
// ago, as the soldout scenario's users.lua sends them.
func soldOutRequests(b *testing.B, host string, n int) [][]byte {
	cfg, err := conf.Load("bench.yaml")
	if err != nil {
		b.Fatal(err)
	}
	m, err := token.MinterFor(cfg, "buy_local")
	if err != nil {
		b.Fatal(err)
	}
	issued := time.Now().Add(-2 * time.Second)
	reqs := make([][]byte, n)
	var tok []byte
	for i := range reqs {
		user := "late-" + strconv.Itoa(i)
		if tok, err = m.Append(tok[:0], issued, []byte(user), []byte("soldout")); err != nil {
			b.Fatal(err)
		}
		reqs[i] = []byte("POST /bench/chain/soldout HTTP/1.1\r\n" + host + "X-User-Id: " + user +
			"\r\nAccept: application/json\r\nX-Order-Token: " + string(tok) + "\r\n\r\n")
	}
	return reqs
}
