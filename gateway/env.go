package gateway

import (
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/redis/rueidis"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/internal/breaker"
	"github.com/flashgate/flashgate/override"
)

// Env is what a filter or endpoint may use while it is built. Everything
// in it is shared by the whole gateway instance built from one config.
type Env struct {
	Config *conf.Config
	// Path is the YAML path of the entry being built, for error messages.
	Path string
	// Route is the route being built: its name and the activities its
	// path expands to (empty when the path has no {activity}).
	Route string
	// RoutePath is the route's path pattern as configured, so a filter can
	// check that the parameter it reads is in it.
	RoutePath  string
	Activities []*Activity
	// AllActivities maps every configured activity id to its activity.
	AllActivities map[string]*Activity
	Pages         *Pages
	Logger        *slog.Logger
	// Redis is the request path's client: use it for calls a request
	// waits on. Nil when redis.addrs is empty.
	Redis rueidis.Client
	// RedisBackground is for loops and admin calls; read it through
	// BackgroundRedis.
	RedisBackground rueidis.Client
	// Units owns the units of the stock store chosen by stock.store: take
	// and give back through it, read counts through Units.Store. Nil
	// when there is no store.
	Units *Units
	// Now is the clock; tests replace it.
	Now func() time.Time
	// Queues are the async routes' queues, for order_status.
	Queues *AsyncQueues
	// Overrides are the operators' pauses and window changes; a filter
	// that pre-renders per window listens to them (OnChange).
	Overrides *override.Store
	// RedisBreaker guards request-path Redis calls; nil when disabled or
	// without Redis. A filter that calls Redis per request takes a
	// Ticket with Allow before the call (refused: return ErrUnavailable at
	// once, making no call) and reports RedisOutcome(err) with Done.
	RedisBreaker *breaker.Breaker

	shared *shared
	// checks run once every route is built (AfterBuild).
	checks *[]func() error
	// built collects the pages of the entry being built, so its
	// rejection counters are resolved by reason before it serves.
	built []*Page
}

// AfterBuild runs check once every route is built; its error fails the
// build as the entry's own would. It is for what only the whole config
// can tell: an endpoint that signs and the filters, on other routes, that
// verify what it signs. An Env outside a config's build (tests) runs none.
func (e *Env) AfterBuild(check func() error) {
	if e.checks != nil {
		*e.checks = append(*e.checks, check)
	}
}

// BackgroundRedis is the client for calls no request waits on (reload
// loops, admin writes): RedisBackground, or Redis when that is unset (as
// in tests). Keeping them apart means a loop's dial, with its longer
// deadline, never holds a connection the request path needs (see
// internal/redisconn).
func (e *Env) BackgroundRedis() rueidis.Client {
	if e.RedisBackground != nil {
		return e.RedisBackground
	}
	return e.Redis
}

// Page builds a rejection page, naming the entry in the error.
func (e *Env) Page(s PageSpec) (*Page, error) {
	p, err := e.Pages.Get(s)
	if err != nil {
		return nil, fmt.Errorf("%s: page %s: %w", e.Path, s.Reason, err)
	}
	e.built = append(e.built, p)
	return p, nil
}

// NewEnv returns an Env with plain pages, the real clock and its own
// shared-state table, for tests and tools that build filters by hand.
func NewEnv() *Env {
	return &Env{
		Pages: NewPages(nil), Now: time.Now, shared: newShared(),
		AllActivities: map[string]*Activity{}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

// NewActivity resolves an activity config, for tests and tools; i is its
// index in the config.
func NewActivity(i int, c conf.Activity) *Activity { return newActivity(i, c) }

// WithOverride attaches an operator override state to an activity built
// by hand (NewActivity), for tests and tools; Build does it itself.
func (a *Activity) WithOverride(s *override.State) *Activity {
	a.override = s
	return a
}
