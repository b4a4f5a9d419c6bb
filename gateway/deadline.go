package gateway

import (
	"crypto/tls"
	"sync/atomic"
	"time"
)

// Socket deadlines, kept by a janitor instead of the runtime's timers.
//
// fasthttp sets three deadlines per keep-alive request: the idle one
// before it waits for the next request, the read one at its first byte
// and the write one before the answer. On a TCP connection each is a
// runtime timer change: 560 ns for the three with their time.Now calls
// (BenchmarkSocketDeadlines, 2 shared cores), about 3% of the CPU the
// product page costs the gateway. trackedConn only stores the deadline
// fasthttp asks for (an atomic store), and notes it while a Read or Write
// is under way; once a tick, the tracker's janitor gives every connection
// blocked past its deadline a deadline in the past, which ends the call
// with the os.ErrDeadlineExceeded that fasthttp would have had. What it
// costs: three atomic operations per Read and per Write, and a sweep of
// the open connections per tick. A deadline so fires up to one tick late.

// poked marks a Read or Write that the janitor has ended.
const poked = -1

// Janitor ticks: a tenth of the shortest timeout, within these bounds.
const (
	minDeadlineTick = 5 * time.Millisecond
	maxDeadlineTick = 100 * time.Millisecond
)

// deadlineTick is how often the janitor of a listener with these timeouts
// looks: a tenth of the shortest, so each fires at most 10% late, and
// within [minDeadlineTick, maxDeadlineTick].
func deadlineTick(timeouts ...time.Duration) time.Duration {
	tick := maxDeadlineTick
	for _, d := range timeouts {
		if d > 0 {
			tick = min(tick, d/10)
		}
	}
	return max(tick, minDeadlineTick)
}

// late is a connection blocked past its deadline.
type late struct {
	c     *trackedConn
	due   int64
	write bool
}

// janitor sweeps the connections every tick until none is left.
func (t *connTracker) janitor() {
	tk := time.NewTicker(t.tick)
	defer tk.Stop()
	var overdue []late
	for now := range tk.C {
		var more bool
		overdue, more = t.sweep(now.UnixNano(), overdue[:0])
		for _, l := range overdue {
			l.c.poke(l.due, l.write)
		}
		clear(overdue)
		if !more {
			return
		}
	}
}

// sweep appends to overdue every Read or Write under way past its
// deadline at now, and says whether any connection is left; when none
// is, the janitor stops (add starts another).
func (t *connTracker) sweep(now int64, overdue []late) ([]late, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.conns) == 0 {
		t.running = false
		return overdue, false
	}
	for c := range t.conns {
		if d := c.readBlocked.Load(); d > 0 && d <= now {
			overdue = append(overdue, late{c, d, false})
		}
		if d := c.writeBlocked.Load(); d > 0 && d <= now {
			overdue = append(overdue, late{c, d, true})
		}
	}
	return overdue, true
}

// begin marks a Read (or Write) under way until the deadline fasthttp
// set, for the janitor, and returns that deadline (0: none, no mark).
func (c *trackedConn) begin(write bool) int64 {
	due, blocked := &c.readDue, &c.readBlocked
	if write {
		due, blocked = &c.writeDue, &c.writeBlocked
	}
	d := due.Load()
	if d != 0 {
		blocked.Store(d)
	}
	return d
}

// end clears the mark begin set with due, and says whether the janitor
// poked the call meanwhile: the caller then gives the socket its resting
// deadline back (unpoke). unpoke is not called from here so that end
// inlines into the Read and Write of every request (BenchmarkTrackedConnRequest:
// 39-42 ns a request, as before begin and end, 44-46 with the call inside).
func (c *trackedConn) end(write bool, due int64) (poked bool) {
	return due != 0 && !c.blocked(write).CompareAndSwap(due, 0)
}

// blocked is the mark of a Read, or of a Write.
func (c *trackedConn) blocked(write bool) *atomic.Int64 {
	if write {
		return &c.writeBlocked
	}
	return &c.readBlocked
}

// poke ends the Read (or Write) blocked until due by giving the socket a
// deadline in the past, unless that call has returned since the sweep.
// A later call with the same due is as late, so it is ended too.
func (c *trackedConn) poke(due int64, write bool) {
	blocked := &c.readBlocked
	if write {
		blocked = &c.writeBlocked
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !blocked.CompareAndSwap(due, poked) {
		return
	}
	past := time.Unix(0, 1)
	if write {
		_ = c.Conn.SetWriteDeadline(past)
	} else {
		_ = c.Conn.SetReadDeadline(past)
	}
}

// unpoke gives the socket its resting deadline back after a poked call
// returned, so the connection's next call is not ended by it (a call
// that returned data just as it was poked leaves the connection usable).
func (c *trackedConn) unpoke(write bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if write {
		_ = c.Conn.SetWriteDeadline(time.Time{})
		c.writeBlocked.Store(0)
		return
	}
	c.restReadDeadline()
	c.readBlocked.Store(0)
}

// tlsConn is what fasthttp asks of a connection to treat it as TLS
// (RequestCtx.IsTLS, so X-Forwarded-Proto: https, and its handshake
// before the first request): *tls.Conn has it.
type tlsConn interface {
	Handshake() error
	ConnectionState() tls.ConnectionState
}

// trackedTLSConn is a trackedConn over a TLS connection. It shows fasthttp
// the TLS methods, which embedding the net.Conn would hide, and runs the
// handshake under the deadlines fasthttp set for it: the handshake reads
// and writes the socket below the trackedConn, so it is marked blocked
// both ways for the janitor, as a Read and a Write are.
type trackedTLSConn struct {
	*trackedConn
	tls tlsConn
}

func (c *trackedTLSConn) ConnectionState() tls.ConnectionState { return c.tls.ConnectionState() }

func (c *trackedTLSConn) Handshake() error {
	rdue, wdue := c.begin(false), c.begin(true)
	err := c.tls.Handshake()
	if c.end(false, rdue) {
		c.unpoke(false)
	}
	if c.end(true, wdue) {
		c.unpoke(true)
	}
	return err
}
