package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/stock"
)

func init() {
	RegisterEndpoint(EndpointInfo{Name: "activity_status", New: func() EndpointConfig { return &StatusConfig{} }})
}

// StatusConfig is the config of the activity_status endpoint.
type StatusConfig struct {
	// Refresh is how stale the answer may be; each activity's JSON is
	// rebuilt at most this often. Default 250ms.
	Refresh time.Duration `mapstructure:"refresh"`
}

// Validate checks the settings.
func (c *StatusConfig) Validate(at conf.At) {
	if c.Refresh < 0 {
		at.Addf("refresh", "must be >= 0, got %s", c.Refresh)
	}
}

// Build makes the endpoint.
func (c *StatusConfig) Build(env *Env) (Endpoint, error) {
	s, err := newActivityStatus(env)
	if err == nil && c.Refresh > 0 {
		s.(*activityStatus).refresh = c.Refresh
	}
	return s, err
}

// activityStatus is the dynamic half of static-dynamic separation: the
// product page is cached by a CDN, and its script polls this small JSON
// for the server's clock, the phase and the stock left. Each activity's
// answer is rebuilt at most every refresh, so a crowd polling it costs one
// stock read per interval, not one per request.
type activityStatus struct {
	stock   stock.Store
	now     func() time.Time
	refresh time.Duration
	cache   []atomic.Pointer[statusBody] // by Activity.Index
}

type statusBody struct {
	built time.Time
	body  []byte
}

// StatusRefresh is how stale the status JSON may be.
const StatusRefresh = 250 * time.Millisecond

func newActivityStatus(env *Env) (Endpoint, error) {
	if len(env.Activities) == 0 {
		return nil, errors.New("activity_status needs {activity} in the route path")
	}
	return &activityStatus{
		stock: env.Stock, now: env.Now, refresh: StatusRefresh,
		cache: make([]atomic.Pointer[statusBody], len(env.AllActivities)),
	}, nil
}

var cacheOneSecond = []byte("public, max-age=1")

func (s *activityStatus) Respond(r *Request) {
	a := r.Activity
	now := s.now()
	b := s.cache[a.Index].Load()
	if b == nil || now.Sub(b.built) >= s.refresh {
		b = &statusBody{built: now, body: s.render(a, now)}
		s.cache[a.Index].Store(b)
	}
	h := &r.Ctx.Response.Header
	h.SetContentTypeBytes(ctypeJSON)
	h.SetBytesKV(headerCacheCtl, cacheOneSecond)
	r.Ctx.Response.SetBodyRaw(b.body)
}

// ActivityStatus is the JSON body of /api/activities/{id}/status.
type ActivityStatus struct {
	Activity   string     `json:"activity"`
	Product    string     `json:"product"`
	ServerTime time.Time  `json:"server_time"`
	Phase      string     `json:"phase"`
	StartsAt   *time.Time `json:"starts_at"`
	EndsAt     *time.Time `json:"ends_at"`
	StockLeft  *int64     `json:"stock_left"`
	SoldOut    bool       `json:"sold_out"`
}

// PhaseName is the wire name of a phase.
func PhaseName(p Phase) string {
	switch p {
	case NotStarted:
		return "not_started"
	case Ended:
		return "ended"
	}
	return "open"
}

func (s *activityStatus) render(a *Activity, now time.Time) []byte {
	phase, next := a.PhaseAt(now)
	st := ActivityStatus{Activity: a.ID, Product: a.Product, ServerTime: now.UTC(), Phase: PhaseName(phase)}
	switch phase {
	case NotStarted:
		st.StartsAt = &next
		for _, w := range a.CurrentWindows() {
			if w.Start.Equal(next) && !w.End.IsZero() {
				end := w.End
				st.EndsAt = &end
			}
		}
	case Open:
		if !next.IsZero() {
			st.EndsAt = &next
		}
	}
	if s.stock != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		if left, err := s.stock.Left(ctx, a.ID); err == nil && left >= 0 {
			st.StockLeft = &left
			st.SoldOut = left == 0
		}
		cancel()
		if s.stock.SoldOut(a.ID) {
			st.SoldOut = true
		}
	}
	b, _ := json.Marshal(st)
	return append(b, '\n')
}

var _ = fasthttp.StatusOK

func init() {
	RegisterEndpoint(EndpointInfo{Name: "stock_decision", New: func() EndpointConfig { return &DecisionConfig{} }})
}

// DecisionConfig is the (empty) config of the stock_decision endpoint.
type DecisionConfig struct{}

// Validate checks nothing: there is nothing to set.
func (*DecisionConfig) Validate(conf.At) {}

// Build makes the endpoint.
func (*DecisionConfig) Build(*Env) (Endpoint, error) { return decisionEndpoint{}, nil }

// decisionEndpoint answers an admitted request with its idempotency key
// instead of proxying it: for benchmarks of the stock path alone, and for
// shops whose own service turns the admitted answer into an order.
type decisionEndpoint struct{}

var (
	admittedPrefix = []byte(`{"admitted":true,"idempotency_key":"`)
	admittedSuffix = []byte("\"}\n")
)

func (decisionEndpoint) Respond(r *Request) {
	ctx := r.Ctx
	ctx.Response.Header.SetContentTypeBytes(ctypeJSON)
	ctx.Response.Header.SetBytesKV(headerCacheCtl, noStore)
	var buf [256]byte
	b := append(buf[:0], admittedPrefix...)
	if r.Activity != nil && r.Ticket.Held {
		b = AppendIdempotencyKey(b, r.Activity.IDBytes, r.User, r.Ticket.Seq)
	}
	ctx.Response.SetBody(append(b, admittedSuffix...)) // copies
}
