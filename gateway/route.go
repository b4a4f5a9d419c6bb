package gateway

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/fasthttp/router"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/internal/breaker"
	"github.com/flashgate/flashgate/internal/retryafter"
	"github.com/flashgate/flashgate/internal/shed"
	"github.com/flashgate/flashgate/static"
)

// Route is one configured route after its path was expanded: a flat
// filter chain and the action an admitted request gets.
type Route struct {
	Name    string
	chain   chain
	metrics routeMetrics
	realIP  []byte

	// gate is the breaker of the upstream a proxy route forwards to: while
	// it is open the route answers unavailable before running its chain.
	gate        *breaker.Breaker
	unavailable *Page
	gateRejects prometheus.Counter

	// purchase routes (a stock filter or a proxy action on an activity)
	// honour an operator's pause and count per activity.
	purchase     bool
	paused       *Page
	pauseRejects prometheus.Counter
	// pages are every page the route can answer a rejection with, so the
	// per-activity counters are resolved by reason at build time.
	pages []*Page
	// shed is the route's adaptive shedder (nil when routes[].shed is
	// off): it answers busy before the chain runs, so nothing that holds
	// a stock unit is ever shed.
	shed     *shed.Shedder
	shedPage *Page
	// busy is the instance's busy page (503 busy): what a purchase gets
	// while the activity's overrides are not known yet.
	busy    *Page
	shedded prometheus.Counter
	// units takes back the unit of a request a filter after stock refused.
	units *Units
	// order encodes the request as the order the stock filter queues
	// with its Take (async mode on the Redis store); nil otherwise.
	order func(r *Request, dst []byte) ([]byte, error)
}

// addRoute builds the chain and action of rc and registers them. A path
// with {activity} or {product} is expanded to one exact path per
// configured id, so matching it allocates nothing (fasthttp/router copies
// every captured parameter).
//
// owners maps each "METHOD path" registered so far to the route (its YAML
// path) that holds it, so a conflict names both sides.
func (in *Instance) addRoute(r *router.Router, owners map[string]string, path string, rc conf.Route, dr decodedRoute, env *Env) error {
	rt := &Route{Name: rc.Name, metrics: newRouteMetrics(rc.Name), units: in.units, busy: in.busy}
	if rc.Shed.Target > 0 {
		rt.shed = shed.New(shed.Settings{Target: rc.Shed.Target, Interval: rc.Shed.Interval, Now: env.Now})
		rt.shedPage = in.busy
		rt.shedded = requestsTotal.WithLabelValues(rc.Name, "shed")
	}
	if h := in.Config.Server.RealIPHeader; h != "" {
		rt.realIP = CanonicalHeader(h)
	}
	if err := checkStockAction(path, rc, dr.filters); err != nil {
		return err
	}
	ungated, err := checkSaleWindow(dr.filters, env.Activities)
	if err != nil {
		return err
	}
	for _, a := range ungated {
		in.windowUngated[a] = true
	}
	if n := len(dr.filters); rc.Action.Mode == "async" && (in.queues.durable != nil || in.Config.Stock.Store == "redis") && n > 0 && dr.filters[n-1].typ != "stock" {
		// The stock script queues the order; a later filter's refusal
		// would give the unit back while a forwarder may already deliver.
		return conf.AtPath(dr.filters[n-1].path, errors.New("async mode on the Redis store queues the order in the stock filter's script, so stock must be the chain's last filter"))
	}
	rt.pages = append(rt.pages, in.busy)
	// Every filter is built, so that one report names each that fails
	// (moving a Redis config to the memory store fails several at once).
	var failed []error
	for _, d := range dr.filters {
		env.Path = d.path
		env.built = env.built[:0]
		f, err := d.cfg.Build(env)
		if err != nil {
			failed = append(failed, conf.AtPath(d.path, err))
			continue
		}
		if c, ok := f.(io.Closer); ok {
			in.closers = append(in.closers, c)
		}
		pages := append([]*Page{in.busy}, env.built...)
		rt.pages = append(rt.pages, env.built...)
		typ := d.typ
		undo, _ := f.(Undoer)
		rt.chain = append(rt.chain, &entry{
			typ: d.typ, route: rc.Name, f: f, onError: d.onError, busy: in.busy, undo: undo,
			errs: filterErrorsTotal.WithLabelValues(rc.Name, d.typ, d.onError.String()),
			rejects: newReasonCounters(pages, func(reason string) prometheus.Counter {
				return rejectionsTotal.WithLabelValues(rc.Name, typ, reason)
			}),
		})
		if d.typ == "stock" {
			rt.purchase = true
		}
	}
	if len(failed) > 0 {
		return errors.Join(failed...)
	}
	if rc.Action.Type == "proxy" {
		rt.purchase = true
	}
	if rt.purchase && env.Activities != nil {
		var err error
		rt.paused, err = in.Pages.Get(PausedPage())
		if err != nil {
			return conf.AtPath(path, fmt.Errorf("paused page: %w", err))
		}
		rt.pages = append(rt.pages, rt.paused)
		rt.pauseRejects = rejectionsTotal.WithLabelValues(rc.Name, "pause", rt.paused.Reason)
	}
	env.Path = conf.Join(path, "action")
	act, err := in.buildAction(rt, rc, dr.endpoint, env)
	if err != nil {
		return conf.AtPath(env.Path, err)
	}
	// Only a sync route waits on its upstream: an async one queues the
	// order, and its forwarder waits out the breaker with the order (a
	// backend that is down makes orders wait, not buyers turned away).
	if u := in.Upstreams[rc.Action.Upstream]; rc.Action.Type == "proxy" && rc.Action.Mode != "async" && u != nil && u.breaker != nil {
		rt.gate = u.breaker
		rt.gateRejects = breakerRejections.WithLabelValues(rc.Name, rc.Action.Upstream)
		rt.unavailable, err = in.Pages.Get(PageSpec{Status: 503, Reason: "upstream_unavailable", Kind: "busy",
			RetryAfter: retryafter.Seconds(u.breaker.OpenFor()),
			Message:    "Orders cannot be taken right now. Please try again in a moment."})
		if err != nil {
			return err
		}
		rt.pages = append(rt.pages, rt.unavailable)
	}
	methods := []string{rc.Method}
	if rc.Method == fasthttp.MethodGet {
		methods = append(methods, fasthttp.MethodHead)
	}
	for _, p := range in.expand(rc.Path, env.Activities) {
		h := rt.handler(p.activity, func(r *Request) { act(r, p.product) })
		for _, m := range methods {
			key := m + " " + p.path
			if err := register(r, m, p.path, h); err != nil {
				if other, ok := owners[key]; ok {
					err = fmt.Errorf("%s already serves %s: give the two routes different paths, or disjoint activities: lists", other, key)
				}
				return conf.AtPath(conf.Join(path, "path"), err)
			}
			if _, ok := owners[key]; !ok {
				owners[key] = path
			}
		}
	}
	return nil
}

// register adds a route, turning the router's panic on a conflicting
// pattern into an error that names the route.
func register(r *router.Router, method, path string, h fasthttp.RequestHandler) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%v", p)
		}
	}()
	r.Handle(method, path, h)
	return nil
}

type expanded struct {
	path     string
	activity *Activity
	product  string
}

// expand turns a pattern into concrete paths, one per activity (of acts)
// and/or product it names. Patterns without those placeholders pass
// unchanged.
func (in *Instance) expand(pattern string, acts []*Activity) []expanded {
	out := []expanded{{path: pattern}}
	if strings.Contains(pattern, "{activity}") {
		var next []expanded
		for _, e := range out {
			for _, a := range acts {
				next = append(next, expanded{
					path: strings.ReplaceAll(e.path, "{activity}", a.ID), activity: a, product: a.Product,
				})
			}
		}
		out = next
	}
	if strings.Contains(pattern, "{product}") {
		var next []expanded
		for _, e := range out {
			for _, p := range in.Site.Products() {
				if e.activity != nil && e.activity.Product != p.ID {
					continue
				}
				next = append(next, expanded{
					path: strings.ReplaceAll(e.path, "{product}", p.ID), activity: e.activity, product: p.ID,
				})
			}
		}
		out = next
	}
	return out
}

// PausedPage is the spec of the page a paused activity's purchases get.
func PausedPage() PageSpec {
	return PageSpec{Status: 503, Reason: "paused", Kind: "busy", RetryAfter: PausedRetryAfter,
		Message: "The sale is paused for a moment. Please try again shortly."}
}

// PausedRetryAfter is the Retry-After of the paused page, in seconds: a
// pause is an operator's brake, longer than a busy moment.
const PausedRetryAfter = 5

// handler is the request path of one expanded route: run the chain, then
// either write the rejection page or run the action.
func (rt *Route) handler(a *Activity, act func(r *Request)) fasthttp.RequestHandler {
	am := rt.activityMetrics(a)
	return func(ctx *fasthttp.RequestCtx) {
		// The breaker decides with its own clock, read now: ctx.Time() is
		// when fasthttp began the request, stale under load.
		gate, ok := rt.gate.Allow()
		if !ok {
			noteRoute(ctx, rt, nil)
			rt.unavailable.Write(ctx)
			rt.gateRejects.Inc()
			rt.metrics.rejected.Inc()
			am.rejects.inc(rt.unavailable)
			return
		}
		if rt.paused != nil && a.Paused() {
			rt.gate.Done(gate, breaker.Ignore)
			rt.paused.Write(ctx)
			rt.pauseRejects.Inc()
			rt.metrics.rejected.Inc()
			am.rejects.inc(rt.paused)
			return
		}
		if rt.paused != nil && !a.OverridesKnown() {
			// Started while Redis was down: an operator's pause may be in
			// force unread. Busy, as with Redis down, until the first read.
			noteRoute(ctx, rt, nil)
			rt.gate.Done(gate, breaker.Ignore)
			rt.busy.Write(ctx)
			rt.metrics.rejected.Inc()
			am.rejects.inc(rt.busy)
			return
		}
		began, ok := rt.shed.Admit()
		if !ok {
			noteRoute(ctx, rt, nil)
			rt.gate.Done(gate, breaker.Ignore)
			rt.shedPage.Write(ctx)
			rt.shedded.Inc()
			am.rejects.inc(rt.shedPage)
			return
		}
		// fasthttp read the clock just before calling the handler: the
		// duration starts there (routing included), one clock read fewer
		// per request than a time.Now() of our own.
		start := ctx.Time()
		r := acquireRequest(ctx, rt, a, rt.realIP)
		r.gate = gate
		v := rt.chain.run(r)
		switch v.Action {
		case Continue:
			act(r)
			rt.metrics.admitted.Inc()
			am.admit()
		case Reject:
			if r.Ticket.Held {
				// A filter after stock refused: the unit goes back.
				rt.units.GiveBack(r, "rejected_after_stock")
			}
			v.Page.Write(ctx)
			rt.metrics.rejected.Inc()
			am.rejects.inc(v.Page)
		case Done:
			rt.metrics.admitted.Inc()
			am.admit()
		}
		// Not forwarded (turned away, or an action that does not proxy):
		// a half-open probe slot goes back without judging the backend.
		rt.gate.Done(r.gate, breaker.Ignore)
		noteRoute(ctx, rt, r)
		releaseRequest(r)
		rt.shed.Done(began)
		rt.metrics.duration.Observe(time.Since(start).Seconds())
	}
}

// buildAction resolves a route's action into a function of the request and
// the product the expanded path names.
func (in *Instance) buildAction(rt *Route, rc conf.Route, ec EndpointConfig, env *Env) (func(r *Request, product string), error) {
	switch rc.Action.Type {
	case "static":
		return in.staticAction(rc.Action.Page)
	case "proxy":
		u := in.Upstreams[rc.Action.Upstream]
		if u == nil {
			return nil, fmt.Errorf("unknown upstream %q", rc.Action.Upstream)
		}
		rewrite := []byte(rc.Action.Rewrite)
		if rc.Action.Mode == "async" && rc.Action.Queue != nil && in.queues.durable != nil {
			activate, err := in.queues.stream(rc.Name, *rc.Action.Queue, u, env)
			if err != nil {
				return nil, err
			}
			in.activate = append(in.activate, activate)
			rt.order = orderEncoder(u, rewrite)
			return durableAction(u, in.poll), nil
		}
		if rc.Action.Mode == "async" && rc.Action.Queue != nil {
			aq, activate, err := in.queues.queue(rc.Name, *rc.Action.Queue, u)
			if err != nil {
				return nil, err
			}
			in.activate = append(in.activate, activate)
			return in.asyncAction(u, aq, rewrite), nil
		}
		return func(r *Request, _ string) { u.Forward(r, rewrite) }, nil
	case "json":
		if ec == nil {
			return nil, fmt.Errorf("unknown endpoint %q", rc.Action.Endpoint)
		}
		ep, err := ec.Build(env)
		if err != nil {
			return nil, err
		}
		if c, ok := ep.(io.Closer); ok {
			in.closers = append(in.closers, c)
		}
		return func(r *Request, _ string) { ep.Respond(r) }, nil
	}
	return nil, errors.New("unknown action type " + rc.Action.Type)
}

func (in *Instance) staticAction(page string) (func(r *Request, product string), error) {
	notFound := in.Pages.MustGet(PageSpec{Status: 404, Reason: "not_found", Kind: "not_found", Message: "No such page."})
	if page == "{product}" {
		return func(r *Request, product string) {
			if !in.Site.Serve(r.Ctx, product) {
				notFound.Write(r.Ctx)
			}
		}, nil
	}
	if page == homePage {
		page = static.HomePage
	}
	if !in.Site.Has(page) {
		return nil, fmt.Errorf("page %q is not in the catalogue", page)
	}
	return func(r *Request, _ string) { in.Site.Serve(r.Ctx, page) }, nil
}

// homePage is the page setting that serves the shop's home page, which
// lists the catalogue.
const homePage = "{home}"
