package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
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
	// Units owns Stock's units: every take and give-back goes through it.
	// Nil: Build makes one for the instance and closes it with the
	// instance (NewServer makes one for the server's life).
	Units *Units
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
	// methodNotAllowed is the 405 page, also for /healthz and /readyz.
	methodNotAllowed *Page
	queues           *AsyncQueues
	units            *Units
	poll             pollLink // where an async 202 says to poll
	// activate holds what takes effect only once the instance serves:
	// running queues switch to this config's upstreams.
	activate []func()
	// windowUngated are the activities a purchase route (a stock
	// filter) sells without a sale_window filter: a window override would
	// gate nothing there, so the admin call refuses it.
	windowUngated map[string]bool
	shared        *shared
	// plan is the shared table as the build left it, read without a
	// lock by Shared.
	plan    map[any]any
	closers []io.Closer
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

// Build makes an Instance from a loaded config (conf.Load): the plan
// stage. On any error everything already built is closed and all
// problems are reported together, as one *conf.FileError naming the
// config's file.
func Build(cfg *conf.Config, deps Deps) (*Instance, error) {
	in, _, err := build(cfg, deps, nil)
	return in, err
}

// build is Build for a reload: prev is the running instance's shared
// table, whose kept state (Keep) the new instance takes over. It also
// returns the activities whose running sale kept its stock settings.
func build(cfg *conf.Config, deps Deps, prev *shared) (in *Instance, kept []*Activity, err error) {
	defer func() { err = conf.InFile(cfg.File, err) }()
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if deps.Overrides == nil {
		deps.Overrides = override.NewMemory()
	}
	var errs conf.Errors
	decodedRoutes, early, site := prepare(cfg, &errs)
	if err := errs.Err(); err != nil {
		return nil, nil, err
	}
	built := &Instance{
		Config:        cfg,
		Site:          site,
		Activities:    map[string]*Activity{},
		Upstreams:     map[string]*Upstream{},
		shared:        newShared(),
		windowUngated: map[string]bool{},
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
	in.units = deps.Units
	if in.units == nil {
		in.units = NewUnits(deps.Stock, deps.Logger)
		in.closers = append(in.closers, in.units)
	}
	in.queues = deps.Queues
	if in.queues == nil {
		in.queues = NewAsyncQueues(in.units, deps.Logger)
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
		in.Upstreams[uc.Name] = newUpstream(uc, deps.Logger, in.Pages, deps.Now, in.units)
	}
	// First of the activations: every running queue moves to this
	// config's upstream of the same name, also one whose route is gone or
	// no longer async (its orders still drain); the routes' own
	// activations below then bind theirs.
	in.activate = append(in.activate, func() { in.queues.rebind(in.Upstreams) })
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
	in.methodNotAllowed = in.Pages.MustGet(PageSpec{Status: 405, Reason: "method_not_allowed", Kind: "error", Message: "Method not allowed here."})
	r.MethodNotAllowed = in.methodNotAllowed.Write
	in.poll = pollLinkOf(cfg.Routes)
	if !in.poll.ok && slices.ContainsFunc(cfg.Routes, func(rc conf.Route) bool { return rc.Action.Mode == "async" }) {
		log := deps.Logger // once it serves: not on check, warm or a build that fails
		in.activate = append(in.activate, func() {
			log.Warn("an async route's 202 has no poll link: no order_status route names {ticket}, so buyers cannot poll their orders")
		})
	}
	var buildErrs []error
	asyncBy := map[string]string{} // activity -> the route selling it async on Redis
	owners := map[string]string{}  // "METHOD path" -> the route serving it
	var checks []func() error      // Env.AfterBuild's
	for i, rc := range cfg.Routes {
		env := &Env{
			Config: cfg, Route: rc.Name, RoutePath: rc.Path, AllActivities: in.Activities, Pages: in.Pages,
			Logger: deps.Logger.With("route", rc.Name), Redis: deps.Redis, Units: in.units, Now: deps.Now,
			RedisBreaker: deps.RedisBreaker, RedisBackground: deps.RedisBackground, Overrides: deps.Overrides, shared: in.shared, Queues: in.queues,
			checks: &checks,
		}
		if strings.Contains(rc.Path, "{activity}") {
			env.Activities = in.routeActivities(rc)
		}
		if err := oneAsyncRoute(asyncBy, conf.Index("routes", i), rc, env.Activities, cfg.Stock.Store); err != nil {
			buildErrs = append(buildErrs, err)
			continue
		}
		if err := in.addRoute(r, owners, conf.Index("routes", i), rc, decodedRoutes[i], env); err != nil {
			buildErrs = append(buildErrs, err)
		}
	}
	if len(buildErrs) == 0 {
		for _, check := range checks {
			if err := check(); err != nil {
				buildErrs = append(buildErrs, err)
			}
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
	// A shared store keeps pay_within with the sale: once this config
	// serves (not on check or warm), a changed value applies in place.
	if ps, ok := deps.Stock.(stock.PayWithinSetter); ok && !deps.AutoWarm {
		acts, log := in.ActivityList, deps.Logger
		in.activate = append(in.activate, func() { applyPayWithin(ps, acts, log) })
	}
	// A shared store's pay_within sweeper covers every activity this
	// instance serves, sold here yet or not (after a restart, say).
	if t, ok := deps.Stock.(stock.Tracker); ok {
		for _, a := range in.ActivityList {
			t.Track(a.ID)
		}
	}
	in.handler = decodedPath(r.Handler)
	in.plan = in.shared.freeze()
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

// applyPayWithin writes each activity's pay_within to the shared store,
// where it differs. Activities the store could not be read for keep their
// running value and are tried again by the next reload or warm-up: one
// WARN names them all (a Redis blip made one ERROR per activity, for
// activities without pay_within too).
func applyPayWithin(ps stock.PayWithinSetter, acts []*Activity, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second) // all of them: Redis down must not hold a reload for long
	defer cancel()
	var failed []string
	var last error
	for _, a := range acts {
		changed, err := ps.SetPayWithin(ctx, a.ID, a.PayWithin)
		switch {
		case err != nil:
			failed, last = append(failed, a.ID), err
		case changed:
			log.Info("pay_within applied", "activity", a.ID, "pay_within", a.PayWithin.String())
		}
	}
	if len(failed) > 0 {
		log.Warn("pay_within could not be compared with the shared store; these sales keep their running value until the next reload or warm-up",
			"activities", strings.Join(failed, ", "), "err", last)
	}
}

// SpecOf is the stock spec of an activity.
func SpecOf(a *Activity) stock.Spec {
	return stock.Spec{Activity: a.ID, Stock: a.Stock, Shards: a.Shards, PerUser: a.PerUser, PayWithin: a.PayWithin}
}

// decodedPath routes on the decoded path. fasthttp/router matches the
// path as sent, so /api/orders/a%3Au%3A1 reached {ticket} still encoded (a
// front end that builds the poll URL with encodeURIComponent always got
// 404) and /p/phone%2Dx missed its page. A path without '%', as every
// path flashgate hands out is, costs one IndexByte and no allocation.
func decodedPath(h fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		if u := ctx.URI(); bytes.IndexByte(u.PathOriginal(), '%') >= 0 {
			u.SetPathBytes(u.Path())
		}
		h(ctx)
	}
}
