package gateway

import (
	"sort"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/flashgate/flashgate/conf"
)

// This file is the one registry: every filter type, json endpoint, admin
// call and metric reaches the gateway as part of a Module that its
// package registers from init. gateway registers its own (core.go).

// Module is what one package adds to the gateway. A filter package lists
// its filter types, the json endpoints that share their state, the admin
// calls over that state (the blacklist's /admin/blacklist, for instance)
// and its metrics, so that the code owning a piece of state is the only
// code that exposes it.
type Module struct {
	// Name names the package in a duplicate-registration panic.
	Name      string
	Filters   []FilterInfo
	Endpoints []EndpointInfo
	// Admin are operator calls; every one requires the bearer token and
	// must be described in gateway/openapi.json (openapi_test.go).
	Admin []AdminRoute
	// Metrics are registered with Registry. Resolve their series when a
	// route or chain is built, never on the request path.
	Metrics []prometheus.Collector
}

// FilterConfig is a filter type's `settings` block. The gateway decodes
// the YAML into it strictly, then calls Validate (no I/O), then Build.
type FilterConfig interface {
	// Validate records every problem, naming fields relative to at.
	Validate(at conf.At)
	// Build makes the filter. It may dial; a returned filter that
	// implements io.Closer is closed when its config is replaced.
	Build(env *Env) (Filter, error)
}

// FilterInfo describes a filter type.
type FilterInfo struct {
	// Type is the snake_case key used in YAML (e.g. "rate_limit").
	Type string
	// New returns an empty config with its defaults set. Tests build
	// through it too (internal/filtertest), so a default has one home.
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

// EndpointInfo describes a built-in endpoint for `action: {type: json}`.
type EndpointInfo struct {
	Name string
	// New returns an empty config with its defaults set.
	New func() EndpointConfig
}

// AdminRoute is an operator call on the admin listener.
type AdminRoute struct {
	Method  string
	Path    string
	Handler func(a *AdminCall)
	// TakesQuery says the handler reads (and checks, with AdminCall.Query)
	// its own query parameters. Without it the call takes none, and any
	// query parameter is refused with 400 bad_query before it runs.
	TakesQuery bool
}

// registry holds every registered module's parts. It is written only by
// init functions and read by builds.
var registry struct {
	mu        sync.RWMutex
	filters   map[string]FilterInfo
	endpoints map[string]EndpointInfo
	admin     []AdminRoute
}

// Register adds a module's filter types, endpoints, admin calls and
// metrics. Call it from init. It panics on a duplicate filter type,
// endpoint, admin route or metric: a programming error caught at start.
func Register(m Module) {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	if registry.filters == nil {
		registry.filters = map[string]FilterInfo{}
		registry.endpoints = map[string]EndpointInfo{}
	}
	for _, fi := range m.Filters {
		if _, dup := registry.filters[fi.Type]; dup {
			panic("gateway: " + m.Name + ": filter type registered twice: " + fi.Type)
		}
		registry.filters[fi.Type] = fi
	}
	for _, ei := range m.Endpoints {
		if _, dup := registry.endpoints[ei.Name]; dup {
			panic("gateway: " + m.Name + ": endpoint registered twice: " + ei.Name)
		}
		registry.endpoints[ei.Name] = ei
	}
	for _, ar := range m.Admin {
		for _, x := range registry.admin {
			if x.Method == ar.Method && x.Path == ar.Path {
				panic("gateway: " + m.Name + ": admin route registered twice: " + ar.Method + " " + ar.Path)
			}
		}
		registry.admin = append(registry.admin, ar)
	}
	Registry.MustRegister(m.Metrics...)
}

func lookupFilter(t string) (FilterInfo, bool) {
	registry.mu.RLock()
	defer registry.mu.RUnlock()
	fi, ok := registry.filters[t]
	return fi, ok
}

func lookupEndpoint(n string) (EndpointInfo, bool) {
	registry.mu.RLock()
	defer registry.mu.RUnlock()
	ei, ok := registry.endpoints[n]
	return ei, ok
}

// adminRoutes are the registered admin calls, in registration order.
func adminRoutes() []AdminRoute {
	registry.mu.RLock()
	defer registry.mu.RUnlock()
	return append([]AdminRoute(nil), registry.admin...)
}

// FilterTypes lists the registered filter types, sorted.
func FilterTypes() []string {
	registry.mu.RLock()
	defer registry.mu.RUnlock()
	return sortedKeys(registry.filters)
}

// EndpointNames lists the registered json endpoints, sorted.
func EndpointNames() []string {
	registry.mu.RLock()
	defer registry.mu.RUnlock()
	return sortedKeys(registry.endpoints)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// NewFilterConfig returns the config of filter type typ with its
// defaults set, as a build starts from: for tools and tests
// (internal/filtertest), so that they never retype a default.
func NewFilterConfig(typ string) (FilterConfig, bool) {
	fi, ok := lookupFilter(typ)
	if !ok {
		return nil, false
	}
	return fi.New(), true
}

// NewEndpointConfig is NewFilterConfig for a json endpoint.
func NewEndpointConfig(name string) (EndpointConfig, bool) {
	ei, ok := lookupEndpoint(name)
	if !ok {
		return nil, false
	}
	return ei.New(), true
}
