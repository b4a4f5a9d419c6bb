package gateway

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/flashgate/flashgate/conf"
)

// OnError is what a chain entry does when its filter cannot decide: the
// entry's on_error, decoded by conf.
type OnError = conf.OnError

// The policies of OnError.
const (
	FailClosed = conf.FailClosed
	FailOpen   = conf.FailOpen
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
	// rejects holds a counter per reason of every page the filter built
	// (and the busy page), resolved at build time and only read after.
	rejects reasonCounters
	undo    Undoer // f, when it is one
}

// chain is a flat slice walked by a for loop, so running it allocates
// nothing (Caddy's closure stack allocates per request).
type chain []*entry

// run walks the chain and returns the first verdict that stops it, or
// Pass when every filter let the request through.
func (c chain) run(r *Request) Verdict {
	for i, e := range c {
		v, err := e.f.Handle(r)
		if err != nil {
			e.errs.Inc()
			if e.onError == FailOpen {
				continue
			}
			e.count(e.busy)
			c[:i].undo(r)
			return RejectWith(e.busy)
		}
		switch v.Action {
		case Continue:
			continue
		case Reject:
			e.count(v.Page)
			if p := v.Page; p != nil && (p.Status == 503 || p.Status == 429) {
				c[:i].undo(r)
			}
		}
		return v
	}
	return Pass
}

// undo gives back what the passed filters spent (Undoer), for a refusal
// that asks the client to try again.
func (c chain) undo(r *Request) {
	for _, e := range c {
		if e.undo != nil {
			e.undo.Undo(r)
		}
	}
}

// count increments the rejection counter of page p for this entry.
func (e *entry) count(p *Page) { e.rejects.inc(p) }

// reasonCounters are counters by reason code, resolved when a chain is
// built. A map read with a string key allocates nothing.
type reasonCounters struct {
	by    map[string]prometheus.Counter
	other prometheus.Counter // a page no filter announced at build time
}

// newReasonCounters resolves one counter per distinct reason of pages;
// with builds the series of a reason (and "other"). A page without a
// reason (a filter's placeholder for "passed") gets no series of its own.
func newReasonCounters(pages []*Page, with func(reason string) prometheus.Counter) reasonCounters {
	rc := reasonCounters{by: map[string]prometheus.Counter{}, other: with("other")}
	for _, p := range pages {
		if p != nil && p.Reason != "" && rc.by[p.Reason] == nil {
			rc.by[p.Reason] = with(p.Reason)
		}
	}
	return rc
}

func (rc *reasonCounters) inc(p *Page) {
	if p == nil || rc.other == nil {
		return
	}
	if c := rc.by[p.Reason]; c != nil {
		c.Inc()
		return
	}
	rc.other.Inc()
}
