package demobackend

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// load is what a peak-shaving benchmark reads at the backend: how many
// orders were created in each second and the most order requests it held
// at once (waiting for a worker included), since the last reset. Measured
// here rather than at the gateway so that the figure is the shop's.
type load struct {
	inflight atomic.Int64
	peak     atomic.Int64

	mu     sync.Mutex
	since  time.Time
	perSec []uint64 // orders created in second i after since
}

// enter counts an order request in; leave must follow.
func (l *load) enter() {
	n := l.inflight.Add(1)
	for {
		p := l.peak.Load()
		if n <= p || l.peak.CompareAndSwap(p, n) {
			return
		}
	}
}

func (l *load) leave() { l.inflight.Add(-1) }

// created counts an order created at now in its 1 s bucket.
func (l *load) created(now time.Time) {
	l.mu.Lock()
	if l.since.IsZero() {
		l.since = now
	}
	i := int(now.Sub(l.since) / time.Second)
	for len(l.perSec) <= i {
		l.perSec = append(l.perSec, 0)
	}
	l.perSec[i]++
	l.mu.Unlock()
}

// reset starts a new window at now: the peak restarts from what is in
// flight.
func (l *load) reset(now time.Time) {
	l.mu.Lock()
	l.since, l.perSec = now, nil
	l.peak.Store(l.inflight.Load())
	l.mu.Unlock()
}

// Load is the window since the last ResetLoad (or the start): orders
// created per 1 s bucket and the peak number of order requests held at
// once.
func (b *Backend) Load() (perSecond []uint64, peakInflight int) {
	b.load.mu.Lock()
	defer b.load.mu.Unlock()
	return append([]uint64(nil), b.load.perSec...), int(b.load.peak.Load())
}

// ResetLoad starts a new Load window now.
func (b *Backend) ResetLoad() { b.load.reset(time.Now()) }

// loadEndpoint is GET /orders/load (the window as JSON:
// {"peak_inflight":N,"per_second":[...]}) and POST /orders/load (a new
// window, 204).
func (b *Backend) loadEndpoint(ctx *fasthttp.RequestCtx) {
	switch {
	case ctx.IsPost():
		b.ResetLoad()
		ctx.SetStatusCode(fasthttp.StatusNoContent)
	case ctx.IsGet() || ctx.IsHead():
		per, peak := b.Load()
		buf := append(make([]byte, 0, 64+8*len(per)), `{"peak_inflight":`...)
		buf = fasthttp.AppendUint(buf, peak)
		buf = append(buf, `,"per_second":[`...)
		for i, n := range per {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = fasthttp.AppendUint(buf, int(n))
		}
		buf = append(buf, "]}"...)
		writeJSONCopy(ctx, fasthttp.StatusOK, buf)
	default:
		methodNotAllowed(ctx, "GET, HEAD, POST")
	}
}
