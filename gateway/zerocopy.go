package gateway

import (
	"bufio"
	"io"
	"net"

	"github.com/valyala/fasthttp"
)

// Page bodies sent without a copy.
//
// fasthttp writes a response into the connection's write buffer and then
// writes the buffer: a 10 KiB product page is copied once, in user space,
// on every answer (runtime.memmove, 3.9% of the gateway's CPU in a perf
// profile of the plain page under wrk -t2 -c128). The product pages are
// immutable bytes in memory, so a plain TCP connection instead sends the
// headers fasthttp buffered and the page itself in one writev: the same
// one system call, without the copy. nginx gets the same from sendfile.
//
// How: SendBody hands fasthttp the page as a body stream of known length
// (so Content-Length, keep-alive and HEAD stay fasthttp's). fasthttp
// writes the headers into its buffer and asks the stream to write itself
// (io.WriterTo); the stream arms the connection and flushes the buffer,
// and the connection's Write, armed, sends the buffered headers and the
// body together. TLS connections (their bytes are encrypted into another
// buffer anyway), small bodies and anything that is not fasthttp's
// buffer over this connection take the plain path.

// zeroCopyMin is the smallest body sent this way: below it the copy costs
// less than the iovec.
const zeroCopyMin = 2048

// bodyStream is a connection's body in flight; a connection answers one
// request at a time, so one is enough and nothing is allocated.
type bodyStream struct {
	body  []byte
	off   int  // bytes of body already sent (or read)
	armed bool // the next Write sends body after its own bytes
	iov   [2][]byte
	bufs  net.Buffers
}

// SendBody makes body the response's body, to be sent without a copy if
// this connection can; it reports false, touching nothing, when it
// cannot (the caller then sets the body itself).
func (c *trackedConn) SendBody(resp *fasthttp.Response, body []byte) bool {
	if !c.vectored || len(body) < zeroCopyMin {
		return false
	}
	s := &c.stream
	s.body, s.off, s.armed = body, 0, false
	resp.SetBodyStream(s, len(body))
	return true
}

// Read serves anyone who reads the body instead of writing it.
func (s *bodyStream) Read(p []byte) (int, error) {
	if s.off >= len(s.body) {
		return 0, io.EOF
	}
	n := copy(p, s.body[s.off:])
	s.off += n
	return n, nil
}

// WriteTo sends the body with the headers buffered in w when w is
// fasthttp's buffer over this connection, else writes it to w.
func (s *bodyStream) WriteTo(w io.Writer) (int64, error) {
	start := s.off
	defer s.done()
	if bw, ok := w.(*bufio.Writer); ok && bw.Buffered() > 0 {
		s.armed = true
		err := bw.Flush() // the connection's Write sends the body too
		if !s.armed || err != nil {
			return int64(s.off - start), err
		}
		s.armed = false // the buffer was another writer's
	}
	n, err := w.Write(s.body[s.off:])
	s.off += n
	return int64(s.off - start), err
}

// done lets go of the body once it is written. A body never written (a
// HEAD, an answer replaced after SendBody) stays referenced until the
// connection's next SendBody or its end: immutable page bytes, nothing
// else reads them.
func (s *bodyStream) done() {
	s.body, s.armed, s.iov, s.bufs = nil, false, [2][]byte{}, nil
}

// writev sends p and the rest of the body in one call (net.Buffers:
// writev on a TCP connection) and reports how much of p went, as Write
// must; the body's share is counted in s.off.
func (s *bodyStream) writev(w io.Writer, p []byte) (int, error) {
	s.armed = false
	s.iov = [2][]byte{p, s.body[s.off:]}
	s.bufs = s.iov[:]
	n64, err := s.bufs.WriteTo(w)
	n := int(n64)
	if n <= len(p) {
		return n, err
	}
	s.off += n - len(p)
	return len(p), err
}
