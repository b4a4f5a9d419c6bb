package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/stock"
)

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
// answer is rebuilt at most every refresh, by one request at a time: the
// others serve the body before it, so a crowd polling it costs one stock
// read per interval, not one per request.
type activityStatus struct {
	stock   stock.Store
	local   bool          // an in-process store needs no deadline
	timeout time.Duration // bound on one stock read: redis.timeout
	now     func() time.Time
	refresh time.Duration
	slots   []statusSlot // by Activity.Index
}

// statusSlot is one activity's cached answer.
type statusSlot struct {
	body atomic.Pointer[statusBody]
	// mu is held by the one request rebuilding the body. Others that find
	// it held serve the previous body (TryLock fails, no wait) or, before
	// the first body exists, wait for it.
	mu sync.Mutex
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
	s := &activityStatus{now: env.Now, refresh: StatusRefresh, slots: make([]statusSlot, len(env.AllActivities))}
	if env.Units != nil && env.Units.Store() != nil {
		s.stock, s.local = env.Units.Store(), env.Units.Local()
	}
	if env.Config != nil {
		s.timeout = env.Config.Redis.Timeout
	}
	return s, nil
}

var cacheOneSecond = []byte("public, max-age=1")

func (s *activityStatus) Respond(r *Request) {
	b := s.body(r.Activity)
	h := &r.Ctx.Response.Header
	h.SetContentTypeBytes(ctypeJSON)
	h.SetBytesKV(headerCacheCtl, cacheOneSecond)
	r.Ctx.Response.SetBodyRaw(b.body)
}

// body returns a's answer, rebuilding it when it is older than refresh
// and no other request is rebuilding it already.
func (s *activityStatus) body(a *Activity) *statusBody {
	slot := &s.slots[a.Index]
	now := s.now()
	b := slot.body.Load()
	if b != nil && now.Sub(b.built) < s.refresh {
		return b
	}
	if !slot.mu.TryLock() {
		if b != nil {
			return b // being rebuilt: the previous body is fresh enough
		}
		slot.mu.Lock() // the very first body: wait for it
	}
	defer slot.mu.Unlock()
	if nb := slot.body.Load(); nb != nil && nb != b {
		return nb // rebuilt while this request waited
	}
	now = s.now()
	nb := &statusBody{built: now, body: s.render(a, now)}
	slot.body.Store(nb)
	return nb
}

// ActivityStatus is the JSON body of /api/activities/{id}/status.
type ActivityStatus struct {
	Activity   string  `json:"activity"`
	Product    string  `json:"product"`
	ServerTime Millis  `json:"server_time"`
	Phase      string  `json:"phase"`
	StartsAt   *Millis `json:"starts_at"`
	EndsAt     *Millis `json:"ends_at"`
	StockLeft  *int64  `json:"stock_left"`
	SoldOut    bool    `json:"sold_out"`
	// Paused: an operator's pause is on (purchases answer 503 paused), so
	// the page shows it instead of a button that would be refused. Null
	// while this gateway has not read the shared overrides yet (started
	// with Redis down): a pause may be on unseen.
	Paused *bool `json:"paused"`
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
	phase, starts, ends := a.Countdown(now)
	st := ActivityStatus{Activity: a.ID, Product: a.Product, ServerTime: Millis(now), Phase: PhaseName(phase),
		StartsAt: millisPtr(starts), EndsAt: millisPtr(ends)}
	if a.OverridesKnown() {
		p := a.Paused()
		st.Paused = &p
	}
	if s.stock != nil {
		c, err := s.counts(a.ID)
		if err == nil {
			st.StockLeft = &c.Left
			st.SoldOut = c.SoldOut
		} else {
			// Unknown count; sold out only if this gateway already knows.
			st.SoldOut = s.stock.SoldOut(a.ID)
		}
	}
	b, _ := json.Marshal(st)
	return append(b, '\n')
}

// counts reads the store, bounded by redis.timeout unless it is local
// (or, in tests built without a config, by the store's own call timeouts).
func (s *activityStatus) counts(activity string) (stock.Counts, error) {
	if s.local || s.timeout <= 0 {
		return s.stock.Counts(context.Background(), activity)
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	return s.stock.Counts(ctx, activity)
}

var _ = fasthttp.StatusOK

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
	SetPrivateJSON(&ctx.Response.Header)
	var buf [256]byte
	b := append(buf[:0], admittedPrefix...)
	if r.Activity != nil && r.Ticket.Held {
		b = AppendIdempotencyKey(b, r.Activity.IDBytes, r.User, r.Ticket.Seq)
	}
	ctx.Response.SetBody(append(b, admittedSuffix...)) // copies
}
