package gateway

import (
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/internal/breaker"
	"github.com/flashgate/flashgate/override"
	"github.com/flashgate/flashgate/stock"
)

// FilterConfig is a filter type's `settings` block. The gateway decodes
// the YAML into it strictly, then calls Validate (no I/O), then Build.
type FilterConfig interface {
	// Validate records every problem, naming fields relative to at.
	Validate(at conf.At)
	// Build makes the filter. It may dial; a returned filter that
	// implements io.Closer is closed when its config is replaced.
	Build(env *Env) (Filter, error)
}

// FilterInfo registers a filter type.
type FilterInfo struct {
	// Type is the snake_case key used in YAML (e.g. "rate_limit").
	Type string
	// New returns an empty config with its defaults set.
	New func() FilterConfig
	// FailClosedOnly refuses `on_error: allow` for this type: a filter
	// whose decision guards an invariant (stock) may never be skipped.
	FailClosedOnly bool
}

// Endpoint answers a json action itself (countdown, tokens, health).
type Endpoint interface {
	Respond(r *Request)
}

// EndpointConfig is the `config` block of a json action, decoded
// strictly like a filter's settings.
type EndpointConfig interface {
	Validate(at conf.At)
	Build(env *Env) (Endpoint, error)
}

// EndpointInfo registers a built-in endpoint for `action: {type: json}`.
type EndpointInfo struct {
	Name string
	// New returns an empty config with its defaults set.
	New func() EndpointConfig
}

var (
	regMu     sync.RWMutex
	filters   = map[string]FilterInfo{}
	endpoints = map[string]EndpointInfo{}
)

// RegisterFilter makes a filter type available to configs. It panics on a
// duplicate, which is a programming error caught at init.
func RegisterFilter(fi FilterInfo) {
	regMu.Lock()
	defer regMu.Unlock()
	if _, dup := filters[fi.Type]; dup {
		panic("gateway: filter type registered twice: " + fi.Type)
	}
	filters[fi.Type] = fi
}

// RegisterEndpoint makes a json endpoint available to configs.
func RegisterEndpoint(ei EndpointInfo) {
	regMu.Lock()
	defer regMu.Unlock()
	if _, dup := endpoints[ei.Name]; dup {
		panic("gateway: endpoint registered twice: " + ei.Name)
	}
	endpoints[ei.Name] = ei
}

func lookupFilter(t string) (FilterInfo, bool) {
	regMu.RLock()
	defer regMu.RUnlock()
	fi, ok := filters[t]
	return fi, ok
}

func lookupEndpoint(n string) (EndpointInfo, bool) {
	regMu.RLock()
	defer regMu.RUnlock()
	ei, ok := endpoints[n]
	return ei, ok
}

// FilterTypes lists the registered filter types, sorted.
func FilterTypes() []string {
	regMu.RLock()
	defer regMu.RUnlock()
	out := make([]string, 0, len(filters))
	for t := range filters {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// EndpointNames lists the registered json endpoints, sorted.
func EndpointNames() []string {
	regMu.RLock()
	defer regMu.RUnlock()
	out := make([]string, 0, len(endpoints))
	for n := range endpoints {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

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
	// Stock is the stock store chosen by stock.store.
	Stock stock.Store
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
	// built collects the pages of the entry being built, so its
	// rejection counters are resolved by reason before it serves.
	built []*Page
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

// Shared returns the value built by build under key, building it once per
// gateway instance, so that several routes share one blacklist or one key
// ring. A value that implements io.Closer is closed with the instance.
func (e *Env) Shared(key string, build func() (any, error)) (any, error) {
	return e.shared.get(key, nil, false, build)
}

// Kept is Shared for state worth keeping across a reload (rate-limit
// buckets): when the instance being replaced holds a value under key built
// with an equal fingerprint, the new instance takes over that very value
// instead of building a fresh one. fingerprint must be comparable and hold
// every setting that shapes the value. A kept io.Closer is closed when the
// last instance holding it closes.
func (e *Env) Kept(key string, fingerprint any, build func() (any, error)) (any, error) {
	return e.shared.get(key, fingerprint, true, build)
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

// shared is one instance's table of shared values. During a reload's
// build, prev is the running instance's table, from which Kept values are
// taken over.
type shared struct {
	mu      sync.Mutex
	m       map[string]any
	fp      map[string]any // fingerprints of the values built by Kept
	refs    map[string]*ref
	closers []*ref
	prev    *shared
}

// ref counts the instances holding a closable shared value.
type ref struct {
	c io.Closer
	n atomic.Int32
}

func newShared() *shared {
	return &shared{m: map[string]any{}, fp: map[string]any{}, refs: map[string]*ref{}}
}

func (s *shared) get(key string, fingerprint any, keep bool, build func() (any, error)) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.m[key]; ok {
		return v, nil
	}
	if keep && s.prev != nil {
		if v, r, ok := s.prev.lend(key, fingerprint); ok {
			s.m[key], s.fp[key] = v, fingerprint
			if r != nil {
				s.refs[key] = r
				s.closers = append(s.closers, r)
			}
			return v, nil
		}
	}
	v, err := build()
	if err != nil {
		return nil, err
	}
	s.m[key] = v
	if keep {
		s.fp[key] = fingerprint
	}
	if c, ok := v.(io.Closer); ok {
		r := &ref{c: c}
		r.n.Store(1)
		s.refs[key] = r
		s.closers = append(s.closers, r)
	}
	return v, nil
}

// lend returns the value under key when it was built by Kept with the
// same fingerprint, counting one more holder of it.
func (s *shared) lend(key string, fingerprint any) (any, *ref, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fp, kept := s.fp[key]
	if !kept || fp != fingerprint {
		return nil, nil, false
	}
	r := s.refs[key]
	if r != nil {
		r.n.Add(1)
	}
	return s.m[key], r, true
}

func (s *shared) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.closers) - 1; i >= 0; i-- {
		if r := s.closers[i]; r.n.Add(-1) == 0 {
			_ = r.c.Close()
		}
	}
	s.closers = nil
	s.prev = nil
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
