// Package gateway is flashgate's request path: the fasthttp server, routes
// built from the config, the flat filter chain each route runs, and the
// actions an admitted request gets (static page, upstream proxy, JSON).
package gateway

import (
	"errors"
)

// Action is what the chain does after a filter.
type Action uint8

const (
	// Continue runs the next filter.
	Continue Action = iota
	// Reject stops the chain; the chain writes Verdict.Page.
	Reject
	// Done stops the chain; the filter has written the response itself.
	Done
)

// Verdict is a filter's decision, returned by value so that the hot path
// allocates nothing. Page points at a response built once at start-up.
type Verdict struct {
	Action Action
	Page   *Page
}

// Pass is the verdict of a filter that lets the request through.
var Pass = Verdict{Action: Continue}

// RejectWith is the verdict that stops the chain with page p.
func RejectWith(p *Page) Verdict { return Verdict{Action: Reject, Page: p} }

// Filter inspects a request and decides. An error means the filter could
// not decide (a dependency is down or slow); the chain then applies the
// entry's on_error policy, which fails closed by default.
type Filter interface {
	Handle(r *Request) (Verdict, error)
}

// Undoer is a filter whose pass spends something that a later refusal
// asking the client to try again (a 503 busy or a 429, both with
// Retry-After) should give back, so that the retry can pass: order_token
// with single_use spends the token. Undo runs on that refusal only, for
// the earlier filters of the chain that passed; it must not block (a
// Redis write goes in the background).
type Undoer interface {
	Undo(r *Request)
}

// Hot-path errors are package-level values so failing costs no allocation.
var (
	// ErrUnavailable reports that a dependency (Redis, a store) could not
	// answer within its bounded timeout.
	ErrUnavailable = errors.New("dependency unavailable")
)
