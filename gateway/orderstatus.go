package gateway

import (
	"encoding/json"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/forward"
)

// OrderStatusConfig is the (empty) config of the order_status endpoint,
// which answers the poll of an async purchase's ticket. Its route's path
// names the ticket {ticket}; the 202 of an async purchase points at the
// first such route (pollLinkOf).
type OrderStatusConfig struct{}

// Validate checks nothing: there is nothing to set.
func (*OrderStatusConfig) Validate(conf.At) {}

// Build makes the endpoint.
func (*OrderStatusConfig) Build(env *Env) (Endpoint, error) {
	p, err := env.Page(PageSpec{Status: 404, Reason: "not_found", Kind: "not_found", Message: "No such order."})
	if err != nil {
		return nil, err
	}
	busy, err := env.Page(PageSpec{Status: 503, Reason: "busy", Kind: "busy", RetryAfter: 1, Message: "Order status is not available right now. Please try again in a moment."})
	if err != nil {
		return nil, err
	}
	s := &orderStatus{notFound: p, busy: busy}
	if env.Queues != nil {
		s.statuses = env.Queues
	}
	return s, nil
}

// OrderStatuses answers order_status polls, whichever store runs: the
// in-process queues (memory) or the Redis status records (Redis: any
// instance answers). *AsyncQueues is one.
type OrderStatuses interface {
	// Lookup finds ticket for user; ok is false for an unknown ticket and
	// for another user's. An error means the store could not answer.
	Lookup(ticket, user string) (st forward.Status, ok bool, err error)
}

type orderStatus struct {
	statuses OrderStatuses
	notFound *Page
	busy     *Page
}

// orderAnswer is the poll's JSON. Body is the backend's answer as JSON
// when it is JSON, else as a string.
type orderAnswer struct {
	Status   string `json:"status"`
	Code     int    `json:"code,omitempty"`
	Body     any    `json:"body,omitempty"`
	Reason   string `json:"reason,omitempty"`
	Attempts int    `json:"attempts"`
}

// Respond answers only the ticket's own user: anyone else, an anonymous
// caller and an unknown or malformed ticket all get the same 404, so a
// ticket cannot be probed.
func (s *orderStatus) Respond(r *Request) {
	ticket, _ := r.Ctx.UserValue("ticket").(string)
	if ticket == "" || r.Anonymous() || s.statuses == nil {
		s.notFound.WriteJSON(r.Ctx)
		return
	}
	st, ok, err := s.statuses.Lookup(ticket, string(r.User))
	if err != nil {
		s.busy.WriteJSON(r.Ctx)
		return
	}
	if !ok {
		s.notFound.WriteJSON(r.Ctx)
		return
	}
	a := orderAnswer{Status: st.State.String(), Code: st.Code, Attempts: st.Attempts}
	if st.State == forward.Failed {
		a.Reason = st.Reason
	}
	if len(st.Body) > 0 {
		if json.Valid(st.Body) {
			a.Body = json.RawMessage(st.Body)
		} else {
			a.Body = string(st.Body)
		}
	}
	b, _ := json.Marshal(a) // a holds nothing json cannot encode
	h := &r.Ctx.Response.Header
	SetPrivateJSON(h)
	r.Ctx.Response.SetBodyRaw(append(b, '\n'))
}
