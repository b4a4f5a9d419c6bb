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

// Check validates cfg as the build does before it makes anything: the
// routes' sections fit their entries, early openings agree, templates
// and catalogue render. It dials nothing.
func Check(cfg *conf.Config) error {
	var errs conf.Errors
	if _, _, site := prepare(cfg, &errs); site != nil {
		_ = site.Close()
	}
	return conf.InFile(cfg.File, errs.Err())
}

// prepare gives every route's decoded sections the gateway's interfaces,
// resolves each activity's early opening (resolveEarly) and renders the
// pages, recording every problem in errs. Check and Build share it, so a
// config is rendered once per build. The site is nil when errs has
// problems.
func prepare(cfg *conf.Config, errs *conf.Errors) ([]decodedRoute, map[string]time.Duration, *static.Site) {
	routes := decodeRoutes(cfg, errs)
	early := resolveEarly(cfg, routes, errs)
	site, err := loadSite(cfg)
	if err != nil {
		errs.Add("", err)
	} else {
		checkPages(cfg, site, errs)
	}
	if errs.Len() > 0 {
		if site != nil {
			_ = site.Close()
		}
		return nil, nil, nil
	}
	return routes, early, site
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

// decoded is one filter entry as the build uses it: the typed settings
// conf decoded, seen as the gateway's FilterConfig.
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

// decodeRoutes gives each route's sections, which conf decoded with the
// registry's schemas (types.go), the gateway's interfaces. An entry conf
// could not decode has no settings and was reported there.
func decodeRoutes(cfg *conf.Config, errs *conf.Errors) []decodedRoute {
	out := make([]decodedRoute, len(cfg.Routes))
	for i, rc := range cfg.Routes {
		for j, f := range rc.Filters {
			if f.Settings == nil {
				continue // conf reported the entry
			}
			fc, ok := f.Settings.(FilterConfig)
			if !ok {
				errs.Addf(conf.Index(conf.Join(conf.Index("routes", i), "filters"), j), "settings of %q not decoded", f.Type)
				continue
			}
			out[i].filters = append(out[i].filters, decoded{path: f.Path, typ: f.Type, cfg: fc, onError: f.OnError})
		}
		if rc.Action.Type == "json" && rc.Action.Settings != nil {
			ec, ok := rc.Action.Settings.(EndpointConfig)
			if !ok {
				errs.Addf(conf.Join(conf.Index("routes", i), "action.config"), "config of endpoint %q not decoded", rc.Action.Endpoint)
				continue
			}
			out[i].endpoint = ec
		}
	}
	return out
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
