package gateway

import (
	"encoding/json"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/forward"
)

// OrderStatusConfig is the (empty) config of the order_status endpoint,
// which answers the poll of an async purchase's ticket. Its route's path
// names the ticket {ticket}; the 202 of an async purchase points at
// /api/orders/<ticket>, so route it there.
type OrderStatusConfig struct{}

// Validate checks nothing: there is nothing to set.
func (*OrderStatusConfig) Validate(conf.At) {}

// Build makes the endpoint.
func (*OrderStatusConfig) Build(env *Env) (Endpoint, error) {
	p, err := env.Page(PageSpec{Status: 404, Reason: "not_found", Kind: "not_found", Message: "No such order."})
	if err != nil {
		return nil, err
	}
	return &orderStatus{queues: env.Queues, notFound: p}, nil
}

type orderStatus struct {
	queues   *AsyncQueues
	notFound *Page
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
	if ticket == "" || r.Anonymous() || s.queues == nil {
		s.notFound.WriteJSON(r.Ctx)
		return
	}
	st, ok := s.queues.Status(ticket, string(r.User))
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
	h.SetContentTypeBytes(ctypeJSON)
	h.SetBytesKV(headerCacheCtl, noStore)
	r.Ctx.Response.SetBodyRaw(append(b, '\n'))
}
