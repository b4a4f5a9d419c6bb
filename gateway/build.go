package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/fasthttp/router"
	"github.com/redis/rueidis"
	"github.com/valyala/fasthttp"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/internal/breaker"
	"github.com/flashgate/flashgate/override"
	"github.com/flashgate/flashgate/static"
	"github.com/flashgate/flashgate/stock"
)

// Deps are the long-lived parts an Instance is built on. They outlive a
// config reload: changing redis.* or stock.store needs a restart.
type Deps struct {
	Logger *slog.Logger
	// Redis is the client of the request path; nil when redis.addrs is
	// empty.
	Redis rueidis.Client
	// RedisBackground is the client of background loops and admin calls,
	// so that they never redial a connection a request waits on (see
	// internal/redisconn). Nil means Redis.
	RedisBackground rueidis.Client
	// Stock is the store the stock filter and admin API use.
	Stock stock.Store
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// AccessLog receives the sampled access log (log.access_every); nil
	// means none.
	AccessLog *slog.Logger
	// RedisBreaker guards the request path's Redis calls (see
	// NewRedisBreaker); nil disables it. NewServer builds it from
	// redis.breaker_* when Redis is configured, so it outlives reloads.
	RedisBreaker *breaker.Breaker
	// AutoWarm loads every activity into Stock at build time. Set it for
	// the in-memory store only: a Redis store is warmed by operators
	// (flashgate warm, or the admin API) so a restart never resets a sale.
	AutoWarm bool
	// Queues holds the async routes' queues across reloads. Nil: Build
	// makes a set for the one instance and closes it with the instance
	// (NewServer makes one for the server's life).
	Queues *AsyncQueues
	// Overrides are the operators' pauses and window changes. They outlive
	// reloads; nil gets a local store (NewServer makes one per Server).
	Overrides *override.Store
}

// Instance is everything built from one config generation: the router, the
// routes with their chains, upstream clients and the page cache. A reload
// builds a new Instance and swaps it in; the old one is closed after a
// grace period.
type Instance struct {
	Config     *conf.Config
	Site       *static.Site
	Pages      *Pages
	Activities map[string]*Activity
	// ActivityList keeps config order.
	ActivityList []*Activity
	Upstreams    map[string]*Upstream

	handler fasthttp.RequestHandler
	busy    *Page
	queues  *AsyncQueues
	// activate holds what takes effect only once the instance serves:
	// running queues switch to this config's upstreams.
	activate []func()
	shared   *shared
	closers  []io.Closer
}

// Activate applies what waits for the instance to serve (see activate);
// Server calls it when it swaps the instance in.
func (in *Instance) Activate() {
	for _, f := range in.activate {
		f()
	}
	in.activate = nil
}

// Close releases what the instance built (filters, shared state, cache).
func (in *Instance) Close() error {
	for i := len(in.closers) - 1; i >= 0; i-- {
		_ = in.closers[i].Close()
	}
	in.shared.close()
	if in.Site != nil {
		return in.Site.Close()
	}
	return nil
}

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

// Build makes an Instance from a loaded config. On any error everything
// already built is closed and all problems are reported together.
func Build(cfg *conf.Config, deps Deps) (*Instance, error) {
	in, _, err := build(cfg, deps, nil)
	return in, err
}

// build is Build for a reload: prev is the running instance's shared
// table, whose kept state (Env.Kept) the new instance takes over. It also
// returns the activities whose running sale kept its stock settings.
func build(cfg *conf.Config, deps Deps, prev *shared) (in *Instance, kept []*Activity, err error) {
	registerMetrics()
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if deps.Overrides == nil {
		deps.Overrides = override.NewMemory()
	}
	decodedRoutes, early, site, err := prepare(cfg)
	if err != nil {
		return nil, nil, err
	}
	built := &Instance{
		Config:     cfg,
		Site:       site,
		Activities: map[string]*Activity{},
		Upstreams:  map[string]*Upstream{},
		shared:     newShared(),
	}
	built.shared.prev = prev
	defer func() {
		built.shared.mu.Lock()
		built.shared.prev = nil // built: let the old instance go
		built.shared.mu.Unlock()
		if err != nil {
			_ = built.Close() // close what was built before the failure
		}
	}()
	in = built
	in.queues = deps.Queues
	if in.queues == nil {
		in.queues = NewAsyncQueues(deps.Stock, deps.Logger)
		in.closers = append(in.closers, in.queues)
		defer func() {
			if err == nil {
				in.Activate()
			}
		}()
	}
	in.Pages = NewPages(func(s PageSpec, other bool) ([]byte, error) {
		d := static.SystemData{
			Status: s.Status, Reason: s.Reason, Title: titleOf(s), Message: s.Message, RetryAfter: s.RetryAfter,
			Activity: s.Activity, StartsAt: s.StartsAt,
		}
		if other {
			d.RetryTo = cfg.Static.Home
		}
		return site.RenderSystem(s.Kind, d)
	})
	in.busy, err = in.Pages.Get(BusyPage(cfg.Server.RetryAfter))
	if err != nil {
		return nil, nil, fmt.Errorf("static.templates: busy page: %w", err)
	}
	for i, ac := range cfg.Activities {
		a := newActivity(i, ac)
		a.override = deps.Overrides.State(a.ID)
		resolveActivitySeries(a.ID)
		in.Activities[a.ID] = a
		in.ActivityList = append(in.ActivityList, a)
	}
	applyEarly(in.ActivityList, early)
	for _, uc := range cfg.Upstreams {
		in.Upstreams[uc.Name] = newUpstream(uc, deps.Logger, in.Pages, deps.Now)
	}
	r := router.New()
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	r.HandleMethodNotAllowed = true
	// OPTIONS answers 204 with the Allow header the router computes; it
	// never reaches a chain's action, so it cannot take stock or proxy.
	r.HandleOPTIONS = true
	r.GlobalOPTIONS = func(ctx *fasthttp.RequestCtx) { ctx.SetStatusCode(fasthttp.StatusNoContent) }
	notFound := in.Pages.MustGet(PageSpec{Status: 404, Reason: "not_found", Kind: "not_found", Message: "No such page."})
	r.NotFound = notFound.Write
	r.MethodNotAllowed = in.Pages.MustGet(PageSpec{Status: 405, Reason: "method_not_allowed", Kind: "error", Message: "Method not allowed here."}).Write
	var buildErrs []error
	for i, rc := range cfg.Routes {
		env := &Env{
			Config: cfg, Route: rc.Name, RoutePath: rc.Path, AllActivities: in.Activities, Pages: in.Pages,
			Logger: deps.Logger.With("route", rc.Name), Redis: deps.Redis, Stock: deps.Stock, Now: deps.Now,
			RedisBreaker: deps.RedisBreaker, RedisBackground: deps.RedisBackground, Overrides: deps.Overrides, shared: in.shared, Queues: in.queues,
		}
		if strings.Contains(rc.Path, "{activity}") {
			env.Activities = in.routeActivities(rc)
		}
		if err := in.addRoute(r, conf.Index("routes", i), rc, decodedRoutes[i], env); err != nil {
			buildErrs = append(buildErrs, err)
		}
	}
	// The assets every page links (favicon, product images): one exact
	// route each, served from memory like the pages.
	for _, name := range site.Assets() {
		h := func(ctx *fasthttp.RequestCtx) { site.Serve(ctx, name) }
		for _, m := range []string{fasthttp.MethodGet, fasthttp.MethodHead} {
			if err := register(r, m, static.AssetPrefix+name, h); err != nil {
				buildErrs = append(buildErrs, fmt.Errorf("static: asset %s%s: %w", static.AssetPrefix, name, err))
			}
		}
	}
	if err := errors.Join(buildErrs...); err != nil {
		return nil, nil, err
	}
	// Last, so that a config that fails to build changes no stock.
	if deps.AutoWarm && deps.Stock != nil {
		if kept, err = autoWarm(deps.Stock, in.ActivityList, deps.Logger); err != nil {
			return nil, nil, err
		}
	}
	in.handler = r.Handler
	return in, kept, nil
}

// routeActivities are the activities a route's {activity} expands to.
func (in *Instance) routeActivities(rc conf.Route) []*Activity {
	if len(rc.Activities) == 0 {
		return in.ActivityList
	}
	out := make([]*Activity, 0, len(rc.Activities))
	for _, id := range rc.Activities {
		out = append(out, in.Activities[id])
	}
	return out
}

// BusyPage is the spec of the page sent when the gateway sheds load or a
// dependency cannot decide.
func BusyPage(retryAfter int) PageSpec {
	return PageSpec{Status: 503, Reason: "busy", Kind: "busy", RetryAfter: retryAfter,
		Message: "We are very busy right now. Please try again in a moment."}
}

// autoWarm loads every activity into the store, so `make run` sells
// without an explicit warm-up. A sale already running keeps its state: a
// reload never resets it, the admin warm with ?force=true does. It
// returns the activities that kept a running sale with other settings.
func autoWarm(s stock.Store, acts []*Activity, log *slog.Logger) (kept []*Activity, err error) {
	for _, a := range acts {
		err := s.Warm(context.Background(), SpecOf(a), false)
		switch {
		case errors.Is(err, stock.ErrExists):
			kept = append(kept, a)
		case err != nil:
			return nil, fmt.Errorf("activities[%d]: warm: %w", a.Index, err)
		}
	}
	return kept, nil
}

// SpecOf is the stock spec of an activity.
func SpecOf(a *Activity) stock.Spec {
	return stock.Spec{Activity: a.ID, Stock: a.Stock, Shards: a.Shards, PerUser: a.PerUser}
}

// LoadConfig reads path. When the top-level schema has errors it also
// checks, as far as the file decoded, every filter's and endpoint's
// settings, templates and catalogue, so the error names every problem at
// once. A config it returns is checked by Build, which decodes and renders
// it anyway: serve, reload and check all read configs through it.
func LoadConfig(path string) (*conf.Config, error) {
	cfg, err := conf.Load(path)
	if err == nil || cfg == nil {
		return cfg, err
	}
	if cerr := Check(cfg); cerr != nil {
		err = errors.Join(err, conf.PrefixFile(path, cerr))
	}
	return nil, err
}
