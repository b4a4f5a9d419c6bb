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

// connTracker knows every open connection: a drain gives those that have
// not read a byte yet a short read deadline, and its janitor enforces the
// deadlines fasthttp sets (deadline.go).
type connTracker struct {
	tick time.Duration // how often the janitor looks; a deadline fires up to this late

	mu      sync.Mutex
	conns   map[*trackedConn]struct{} // every open connection
	running bool                      // a janitor is sweeping conns; under mu
	// drainAt is the deadline (Unix ns) given to connections that have not
	// started, set once by drain; 0 until then.
	drainAt atomic.Int64
}

// newConnTracker returns a tracker whose janitor looks every tick.
func newConnTracker(tick time.Duration) *connTracker {
	return &connTracker{tick: tick, conns: make(map[*trackedConn]struct{})}
}

// wrap returns ln with its connections tracked.
func (t *connTracker) wrap(ln net.Listener) net.Listener { return &trackedListener{Listener: ln, t: t} }

// add tracks c, starting a janitor if none is running, and gives it the
// drain deadline if a drain has begun.
func (t *connTracker) add(c *trackedConn) {
	t.mu.Lock()
	t.conns[c] = struct{}{}
	if !t.running {
		t.running = true
		go t.janitor()
	}
	t.mu.Unlock()
	// After the insert: either drain sees c in conns, or c sees drainAt.
	if t.drainAt.Load() != 0 {
		c.mu.Lock()
		c.restReadDeadline()
		c.mu.Unlock()
	}
}

// drain gives every connection that has not read a byte the deadline
// now+grace, and every connection accepted from now on too.
func (t *connTracker) drain(grace time.Duration) {
	t.drainAt.Store(time.Now().Add(grace).UnixNano())
	t.mu.Lock()
	defer t.mu.Unlock()
	for c := range t.conns {
		c.mu.Lock()
		c.restReadDeadline()
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
	_, plain := c.(*net.TCPConn)
	tc := &trackedConn{Conn: c, t: l.t, vectored: plain}
	l.t.add(tc)
	if t, ok := c.(tlsConn); ok {
		return &trackedTLSConn{trackedConn: tc, tls: t}, nil
	}
	return tc, nil
}

// trackedConn is a connection that knows whether it has read a byte yet,
// and whose deadlines the tracker's janitor enforces.
type trackedConn struct {
	net.Conn
	t     *connTracker
	begun atomic.Bool // started, for the lock-free check in Read
	// readDue and writeDue are the deadlines fasthttp set (Unix ns, 0 for
	// none); readBlocked and writeBlocked the deadline of the Read or
	// Write under way, 0 when none is, poked once the janitor ended it.
	readDue, writeDue         atomic.Int64
	readBlocked, writeBlocked atomic.Int64
	mu                        sync.Mutex // orders the socket's deadline changes
	started                   bool       // a byte was read; under mu
	closeOnce                 sync.Once
	stream                    bodyStream // zerocopy.go
	vectored                  bool       // a plain TCP connection: SendBody may writev
}

// Read marks the connection started at its first byte. A read that times
// out on the drain deadline before any byte came is reported as the
// client closing (io.EOF), so the connection ends without an error
// answer: nobody asked anything.
func (c *trackedConn) Read(p []byte) (int, error) {
	due := c.begin(false)
	n, err := c.Conn.Read(p)
	if c.end(false, due) {
		c.unpoke(false)
	}
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

// Write is the connection's, under the write deadline fasthttp set.
func (c *trackedConn) Write(p []byte) (int, error) {
	due := c.begin(true)
	var n int
	var err error
	if c.stream.armed {
		n, err = c.stream.writev(c.Conn, p)
	} else {
		n, err = c.Conn.Write(p)
	}
	if c.end(true, due) {
		c.unpoke(true)
	}
	return n, err
}

// start records the first byte: the socket loses the drain deadline, should
// a drain have set one in the meantime; the server's own deadline is the
// janitor's to keep.
func (c *trackedConn) start() {
	c.mu.Lock()
	c.started = true
	c.begun.Store(true)
	if c.t.drainAt.Load() != 0 {
		c.restReadDeadline()
	}
	c.mu.Unlock()
}

// restReadDeadline gives the socket the read deadline it has when no poke
// is under way: the drain's before the first byte once a drain began,
// else none. Under mu.
func (c *trackedConn) restReadDeadline() {
	var at time.Time
	if d := c.t.drainAt.Load(); d != 0 && !c.started {
		at = time.Unix(0, d)
	}
	_ = c.Conn.SetReadDeadline(at)
}

// SetReadDeadline records the deadline for the janitor: no socket call.
func (c *trackedConn) SetReadDeadline(t time.Time) error {
	c.readDue.Store(unixNano(t))
	return nil
}

// SetWriteDeadline records the deadline for the janitor: no socket call.
func (c *trackedConn) SetWriteDeadline(t time.Time) error {
	c.writeDue.Store(unixNano(t))
	return nil
}

func (c *trackedConn) SetDeadline(t time.Time) error {
	d := unixNano(t)
	c.readDue.Store(d)
	c.writeDue.Store(d)
	return nil
}

func (c *trackedConn) Close() error {
	c.closeOnce.Do(func() { c.t.forget(c) })
	return c.Conn.Close()
}

// unixNano is t in Unix ns, 0 for the zero time (no deadline); a deadline
// at or before the epoch is 1, already past.
func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return max(t.UnixNano(), 1)
}
