package gateway

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// DrainGrace is how long, once a shutdown starts, a connection that has
// not sent a byte yet may take to begin its request. fasthttp's Shutdown
// closes idle keep-alive connections at once, but counts a new connection
// as idle only after 5 s, and until then it waits in its first read for up
// to server.read_timeout: one client that connected and sent nothing would
// hold the exit for seconds. Not zero, because such a client may be about
// to send (its request following the connect by one round trip).
const DrainGrace = 500 * time.Millisecond

// connTracker knows every accepted connection that has not yet read a
// byte, so that a drain can give them a short read deadline. What it costs
// the request path: one allocation and a map insert per connection, one
// atomic load per Read, and an uncontended mutex around each of the two
// SetReadDeadline calls fasthttp makes per request; 20-27 ns and no
// allocation per request in all (BenchmarkTrackedConnRequest, 2 shared
// cores), against microseconds for the request's own syscalls.
type connTracker struct {
	mu    sync.Mutex
	conns map[*trackedConn]struct{} // connections that have read nothing yet
	// drainAt is the deadline (Unix ns) given to connections that have not
	// started, set once by drain; 0 until then.
	drainAt atomic.Int64
}

func newConnTracker() *connTracker {
	return &connTracker{conns: make(map[*trackedConn]struct{})}
}

// wrap returns ln with its connections tracked.
func (t *connTracker) wrap(ln net.Listener) net.Listener { return &trackedListener{Listener: ln, t: t} }

// drain gives every connection that has not read a byte the deadline
// now+grace, and every connection accepted from now on too.
func (t *connTracker) drain(grace time.Duration) {
	at := time.Now().Add(grace)
	t.drainAt.Store(at.UnixNano())
	t.mu.Lock()
	defer t.mu.Unlock()
	for c := range t.conns {
		c.mu.Lock()
		if !c.started {
			_ = c.Conn.SetReadDeadline(at)
		}
		c.mu.Unlock()
	}
}

func (t *connTracker) forget(c *trackedConn) {
	t.mu.Lock()
	delete(t.conns, c)
	t.mu.Unlock()
}

type trackedListener struct {
	net.Listener
	t *connTracker
}

func (l *trackedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc := &trackedConn{Conn: c, t: l.t}
	l.t.mu.Lock()
	l.t.conns[tc] = struct{}{}
	l.t.mu.Unlock()
	return tc, nil
}

// trackedConn is a connection that knows whether it has read a byte yet.
type trackedConn struct {
	net.Conn
	t         *connTracker
	begun     atomic.Bool // started, for the lock-free check in Read
	mu        sync.Mutex  // orders deadline changes against drain
	started   bool        // a byte was read; under mu
	want      time.Time   // the read deadline the server asked for; under mu
	closeOnce sync.Once
}

// Read marks the connection started at its first byte. A read that times
// out on the drain deadline before any byte came is reported as the
// client closing (io.EOF), so the connection ends without an error
// answer: nobody asked anything.
func (c *trackedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if c.begun.Load() {
		return n, err
	}
	if n > 0 {
		c.start()
		return n, err
	}
	if err != nil && c.t.drainAt.Load() != 0 && errors.Is(err, os.ErrDeadlineExceeded) {
		return 0, io.EOF
	}
	return n, err
}

// start records the first byte. The request now has the server's own read
// deadline back, should a drain have shortened it in the meantime.
func (c *trackedConn) start() {
	c.mu.Lock()
	c.started = true
	c.begun.Store(true)
	if c.t.drainAt.Load() != 0 {
		_ = c.Conn.SetReadDeadline(c.want)
	}
	c.mu.Unlock()
	c.t.forget(c)
}

// SetReadDeadline keeps the server's deadline, shortened to the drain
// deadline while nothing has been read.
func (c *trackedConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.want = t
	if !c.started {
		if at := c.t.drainAt.Load(); at != 0 {
			if d := time.Unix(0, at); t.IsZero() || t.After(d) {
				t = d
			}
		}
	}
	return c.Conn.SetReadDeadline(t)
}

func (c *trackedConn) SetDeadline(t time.Time) error {
	if err := c.Conn.SetWriteDeadline(t); err != nil {
		return err
	}
	return c.SetReadDeadline(t)
}

func (c *trackedConn) Close() error {
	c.closeOnce.Do(func() { c.t.forget(c) })
	return c.Conn.Close()
}
