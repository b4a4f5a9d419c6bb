package conf

import (
	"reflect"
	"strings"
	"sync/atomic"
)

// This file decodes the sections whose schema belongs to a registered
// type: each filter's settings and each json endpoint's config. conf
// cannot import the gateway that registers them, so the gateway hands
// its registry over once, at init (UseTypes).

// Section is a settings block with its own schema: a filter's settings
// or an endpoint's config. Parse decodes it strictly into the type's
// config struct and calls Validate, which does no I/O.
type Section interface{ Validate(at At) }

// Types resolves the names a config uses to their sections' schemas.
type Types interface {
	// Filter returns the empty settings (defaults set) of a filter type,
	// and whether the type refuses on_error: allow.
	Filter(typ string) (settings Section, failClosedOnly, ok bool)
	// Endpoint returns the empty config of a json endpoint.
	Endpoint(name string) (Section, bool)
	FilterTypes() []string
	EndpointNames() []string
	// Check makes the checks of the whole config that the plan stage
	// makes anyway, those that dial nothing (the gateway renders the
	// pages and checks what the routes' entries need of each other).
	// parse runs it only on a file that already has problems, on the
	// config as far as it decoded, so that one report lists them all;
	// a file without problems gets them from the build.
	Check(cfg *Config, errs *Errors)
}

var types atomic.Pointer[Types]

// UseTypes installs the registry Parse decodes sections with. The
// gateway calls it at init; a program that reads configs must import
// the gateway (and the filters it serves).
func UseTypes(t Types) { types.Store(&t) }

func registry() Types {
	if t := types.Load(); t != nil {
		return *t
	}
	return noTypes{}
}

// noTypes is the registry of a program that imported no gateway: it
// knows no filter and no endpoint, so a config naming one is refused
// rather than read half-checked.
type noTypes struct{}

func (noTypes) Filter(string) (Section, bool, bool) { return nil, false, false }
func (noTypes) Endpoint(string) (Section, bool)     { return nil, false }
func (noTypes) FilterTypes() []string               { return nil }
func (noTypes) EndpointNames() []string             { return nil }
func (noTypes) Check(*Config, *Errors)              {}

// OnError is what a chain does when a filter cannot decide (its
// dependency is down or slow).
type OnError uint8

const (
	// FailClosed answers with the busy page (503 + Retry-After):
	// `on_error: deny`. Default.
	FailClosed OnError = iota
	// FailOpen lets the request through to the next filter:
	// `on_error: allow`. Only where the YAML says so, and never for a
	// type that guards an invariant (stock).
	FailOpen
)

// String is the YAML word for the policy.
func (o OnError) String() string {
	if o == FailOpen {
		return "allow"
	}
	return "deny"
}

var filterType = reflect.TypeOf(Filter{})

// filterHook keeps a chain entry's YAML map whole for decodeSections:
// only the type's own schema can decode its settings.
func filterHook(from, to reflect.Type, data any) (any, error) {
	if to != filterType {
		return data, nil
	}
	m, ok := data.(map[string]any)
	if !ok {
		return data, nil // the decoder refuses it with its wrong-type error
	}
	return Filter{raw: m}, nil
}

// decodeSections decodes every filter entry and json endpoint config
// with its type's schema, recording every problem with its YAML path.
func (c *Config) decodeSections(errs *Errors) {
	reg := registry()
	for i := range c.Routes {
		rt := &c.Routes[i]
		rp := Index("routes", i)
		for j := range rt.Filters {
			if len(rt.Filters[j].raw) == 1 { // else Validate reported it
				decodeFilter(reg, errs, Index(Join(rp, "filters"), j), &rt.Filters[j])
			}
		}
		decodeEndpoint(reg, errs, Join(rp, "action"), &rt.Action)
	}
}

func decodeFilter(reg Types, errs *Errors, fp string, f *Filter) {
	var settings any
	for typ, v := range f.raw {
		f.Type, settings = typ, v
	}
	f.raw = nil
	s, failClosedOnly, ok := reg.Filter(f.Type)
	switch {
	case !ok && len(reg.FilterTypes()) == 0:
		errs.Addf(fp, "filter type %q cannot be checked: this program registered no filter types (it must import github.com/flashgate/flashgate/filters)", f.Type)
		return
	case !ok:
		errs.Addf(fp, "unknown filter type %q (known: %s)", f.Type, strings.Join(reg.FilterTypes(), ", "))
		return
	}
	path := Join(fp, f.Type)
	m := map[string]any{}
	switch v := settings.(type) {
	case nil:
	case map[string]any:
		for k, val := range v {
			m[k] = val
		}
	default:
		errs.Addf(path, "settings must be a map, got %T", settings)
		return
	}
	if oe, ok := m["on_error"]; ok {
		delete(m, "on_error")
		switch oe {
		case "deny":
			f.OnError = FailClosed
		case "allow":
			f.OnError = FailOpen
			if failClosedOnly {
				errs.Addf(Join(path, "on_error"), "%s always fails closed; allow is not accepted", f.Type)
			}
		default:
			errs.Addf(Join(path, "on_error"), "must be deny or allow, got %v", oe)
		}
	}
	DecodeSection(errs, path, m, s)
	f.Settings, f.Path = s, path
}

func decodeEndpoint(reg Types, errs *Errors, ap string, a *Action) {
	if a.Type != "json" {
		if len(a.Config) > 0 {
			errs.Addf(Join(ap, "config"), "only a json action takes config")
		}
		return
	}
	if a.Endpoint == "" {
		return // Validate reported it
	}
	s, ok := reg.Endpoint(a.Endpoint)
	if !ok {
		errs.Addf(Join(ap, "endpoint"), "unknown endpoint %q (known: %s)",
			a.Endpoint, strings.Join(reg.EndpointNames(), ", "))
		return
	}
	in := a.Config
	if in == nil {
		in = map[string]any{}
	}
	DecodeSection(errs, Join(ap, "config"), in, s)
	a.Settings = s
}
