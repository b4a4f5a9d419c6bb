package gateway

// This file is the decode stage of a build: every route's filters and
// endpoint decoded and validated, and the pages rendered, before Build
// (build.go) makes anything that dials or holds state.

import (
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/static"
)

// Check validates cfg as `flashgate check` does: filter sections decoded
// and validated, endpoints known, templates and catalogue rendered. It
// dials nothing.
func Check(cfg *conf.Config) error {
	_, _, site, err := prepare(cfg)
	if site != nil {
		_ = site.Close()
	}
	return err
}

// prepare decodes and validates every route's filters and endpoint,
// resolves each activity's early opening (resolveEarly) and renders the
// pages, reporting the problems of all at once. Check and Build share it,
// so a config is decoded and rendered once per build.
func prepare(cfg *conf.Config) ([]decodedRoute, map[string]time.Duration, *static.Site, error) {
	var errs conf.Errors
	routes := decodeRoutes(cfg, &errs)
	early := resolveEarly(cfg, routes, &errs)
	site, err := loadSite(cfg)
	if err != nil {
		errs.Add("", err)
	} else {
		checkPages(cfg, site, &errs)
	}
	if err := errs.Err(); err != nil {
		if site != nil {
			_ = site.Close()
		}
		return nil, nil, nil, err
	}
	return routes, early, site, nil
}

// checkPages reports what serve would otherwise show only as a 404 at
// run time: a static route naming a page the catalogue lacks, and an
// activity whose product has no page although the config serves product
// pages (a catalogue is set, or a route serves "{product}").
func checkPages(cfg *conf.Config, site *static.Site, errs *conf.Errors) {
	productPages := cfg.Static.Catalogue != ""
	for i, r := range cfg.Routes {
		if r.Action.Type != "static" || r.Action.Page == "" {
			continue
		}
		at := conf.Join(conf.Index("routes", i), "action.page")
		switch {
		case r.Action.Page == homePage:
		case r.Action.Page == "{product}":
			productPages = true
			if len(site.Products()) == 0 {
				errs.Addf(at, "serves {product} pages but the catalogue (static.catalogue) has no products")
			}
		case !site.Has(r.Action.Page):
			errs.Addf(at, "page %q is not in the catalogue (static.catalogue)", r.Action.Page)
		}
	}
	if !productPages {
		return // an API-only gateway: activities need no pages
	}
	for i, a := range cfg.Activities {
		if _, ok := site.Product(a.Product); !ok {
			errs.Addf(conf.Join(conf.Index("activities", i), "product"),
				"%q is not in the catalogue (static.catalogue): its product page would be a 404", a.Product)
		}
	}
}

// decoded is one filter entry after decoding and validation.
type decoded struct {
	path    string
	typ     string
	cfg     FilterConfig
	onError OnError
}

// decodedRoute is a route's filters and endpoint config, decoded.
type decodedRoute struct {
	filters  []decoded
	endpoint EndpointConfig
}

// decodeRoutes decodes and validates every filter and endpoint config.
func decodeRoutes(cfg *conf.Config, errs *conf.Errors) []decodedRoute {
	out := make([]decodedRoute, len(cfg.Routes))
	for i, rc := range cfg.Routes {
		rp := conf.Index("routes", i)
		for j, raw := range rc.Filters {
			fp := conf.Index(conf.Join(rp, "filters"), j)
			for typ, settings := range raw {
				if d, ok := decodeFilter(fp, typ, settings, errs); ok {
					out[i].filters = append(out[i].filters, d)
				}
			}
		}
		out[i].endpoint = decodeEndpoint(conf.Join(rp, "action"), rc.Action, errs)
	}
	return out
}

func decodeEndpoint(ap string, a conf.Action, errs *conf.Errors) EndpointConfig {
	if a.Type != "json" {
		if len(a.Config) > 0 {
			errs.Addf(conf.Join(ap, "config"), "only a json action takes config")
		}
		return nil
	}
	if a.Endpoint == "" {
		return nil // conf.Validate reported it
	}
	ei, ok := lookupEndpoint(a.Endpoint)
	if !ok {
		errs.Addf(conf.Join(ap, "endpoint"), "unknown endpoint %q (known: %s)",
			a.Endpoint, strings.Join(EndpointNames(), ", "))
		return nil
	}
	ec := ei.New()
	in := a.Config
	if in == nil {
		in = map[string]any{}
	}
	conf.DecodeSection(errs, conf.Join(ap, "config"), in, ec)
	return ec
}

func decodeFilter(fp, typ string, settings any, errs *conf.Errors) (decoded, bool) {
	fi, ok := lookupFilter(typ)
	if !ok {
		errs.Addf(fp, "unknown filter type %q (known: %s)", typ, strings.Join(FilterTypes(), ", "))
		return decoded{}, false
	}
	path := conf.Join(fp, typ)
	m := map[string]any{}
	switch s := settings.(type) {
	case nil:
	case map[string]any:
		for k, v := range s {
			m[k] = v
		}
	default:
		errs.Addf(path, "settings must be a map, got %T", settings)
		return decoded{}, false
	}
	d := decoded{path: path, typ: typ, cfg: fi.New()}
	if oe, ok := m["on_error"]; ok {
		delete(m, "on_error")
		switch oe {
		case "deny":
			d.onError = FailClosed
		case "allow":
			d.onError = FailOpen
			if fi.FailClosedOnly {
				errs.Addf(conf.Join(path, "on_error"), "%s always fails closed; allow is not accepted", typ)
			}
		default:
			errs.Addf(conf.Join(path, "on_error"), "must be deny or allow, got %v", oe)
		}
	}
	before := errs.Len()
	conf.DecodeSection(errs, path, m, d.cfg)
	return d, errs.Len() == before
}

func loadSite(cfg *conf.Config) (*static.Site, error) {
	// Pages a sale's crowd hits are kept in the zero-copy hot set:
	// every activity's product and every page a route serves by name.
	hot := make([]string, 0, len(cfg.Activities))
	for _, a := range cfg.Activities {
		hot = append(hot, a.Product)
	}
	productURL := ""
	for _, r := range cfg.Routes {
		switch {
		case r.Action.Type != "static":
		case r.Action.Page == "{product}":
			// The home page links products through the first route that
			// serves them by id alone.
			if productURL == "" && r.Method == fasthttp.MethodGet && !strings.Contains(r.Path, "{activity}") {
				productURL = r.Path
			}
		default:
			hot = append(hot, r.Action.Page)
		}
	}
	return static.Load(static.Options{
		TemplatesDir:  cfg.Static.Templates,
		CataloguePath: cfg.Static.Catalogue,
		CacheControl:  cfg.Static.CacheControl,
		CacheMB:       cfg.Static.CacheMB,
		Hot:           hot,
		Shop: static.Shop{Name: cfg.Static.ShopName, Home: cfg.Static.Home,
			Login: cfg.Static.LoginURL, SignedInCookie: cfg.Static.SignedInCookie},
		ProductURL: productURL,
	})
}
