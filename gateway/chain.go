package gateway

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// OnError is what a chain entry does when its filter cannot decide.
type OnError uint8

const (
	// FailClosed answers with the busy page (503 + Retry-After). Default.
	FailClosed OnError = iota
	// FailOpen lets the request through to the next filter. Only where
	// the YAML says so, and never for the stock filter.
	FailOpen
)

// entry is one filter of a chain with everything it needs resolved at
// build time: its counters and its busy page.
type entry struct {
	typ     string
	route   string
	f       Filter
	onError OnError
	busy    *Page
	errs    prometheus.Counter
	rejects sync.Map // *Page -> prometheus.Counter, filled on first use
}

// chain is a flat slice walked by a for loop, so running it allocates
// nothing (Caddy's closure stack allocates per request).
type chain []*entry

// run walks the chain and returns the first verdict that stops it, or
// Pass when every filter let the request through.
func (c chain) run(r *Request) Verdict {
	for _, e := range c {
		v, err := e.f.Handle(r)
		if err != nil {
			e.errs.Inc()
			if e.onError == FailOpen {
				continue
			}
			e.count(e.busy)
			return RejectWith(e.busy)
		}
		switch v.Action {
		case Continue:
			continue
		case Reject:
			e.count(v.Page)
		}
		return v
	}
	return Pass
}

// count increments the rejection counter of page p for this entry.
func (e *entry) count(p *Page) {
	if p == nil {
		return
	}
	if c, ok := e.rejects.Load(p); ok {
		c.(prometheus.Counter).Inc()
		return
	}
	c := rejectionsTotal.WithLabelValues(e.route, e.typ, p.Reason)
	e.rejects.Store(p, c)
	c.Inc()
}
