package gateway

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/fasthttp/router"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/stock"
)

// AdminCall is one authenticated admin request.
type AdminCall struct {
	Ctx *fasthttp.RequestCtx
	// Instance is the one serving when the call came in: read the state
	// its build shared with Shared(a.Instance, key).
	Instance *Instance
	Deps     Deps

	server *Server
	reload func() (Report, error)
	reason string // the error reason answered, for the audit line
}

// JSON writes v with status.
func (a *AdminCall) JSON(status int, v any) {
	// Not HTML-escaped: an operator reads "must be > 0", not "\u003e".
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // ends with the newline
	a.Ctx.SetStatusCode(status)
	a.Ctx.Response.Header.SetContentTypeBytes(ctypeJSON)
	a.Ctx.SetBody(b.Bytes())
}

// Error writes {"error": reason, "message": msg} with status. A 503 (the
// store or Redis not answering: worth trying again) says when, with
// Retry-After, as the public port's 503s do.
func (a *AdminCall) Error(status int, reason, msg string) {
	a.reason = reason
	if status == fasthttp.StatusServiceUnavailable {
		a.Ctx.Response.Header.Set("Retry-After", adminRetryAfter)
	}
	a.JSON(status, map[string]any{"error": reason, "message": msg, "status": status})
}

// adminRetryAfter is the Retry-After of the admin API's 503s, in seconds:
// about the Redis breaker's open time, after which a call may get through.
const adminRetryAfter = "1"

// Param is a path parameter of the admin route, percent-decoded: a
// backend that builds the URL with encodeURIComponent sends an order key's
// ":" as %3A. A value that does not decode is returned as sent (the call
// then refuses it as malformed).
func (a *AdminCall) Param(name string) string {
	s, _ := a.Ctx.UserValue(name).(string)
	if strings.IndexByte(s, '%') >= 0 {
		if d, err := url.PathUnescape(s); err == nil {
			return d
		}
	}
	return s
}

//go:embed dashboard/index.html
var dashboardHTML []byte

// Admin is the operator API on its own listener: metrics, health, reload,
// warm-up, stock and release. It is never on the public port.
type Admin struct {
	srv    *fasthttp.Server
	conns  *connTracker
	routes []string
}

//go:embed openapi.json
var openAPI []byte

// NewAdmin builds the admin server, or returns nil when admin.listen is
// empty. reload re-reads the config file.
func NewAdmin(c conf.Admin, s *Server, deps Deps, reload func() (Report, error)) (*Admin, error) {
	if c.Listen == "" {
		return nil, nil
	}
	if len(c.Token) < 16 {
		return nil, errors.New("admin.token must be at least 16 characters")
	}
	token := []byte(c.Token)
	if deps.Overrides == nil {
		deps.Overrides = s.deps.Overrides
	}
	r := router.New()
	// A near miss (a trailing slash, another case, a doubled slash) is
	// 404 JSON like any unknown path, not the router's empty redirect.
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	ad := &Admin{}
	handle := func(method, path string, h fasthttp.RequestHandler) {
		r.Handle(method, path, h)
		ad.routes = append(ad.routes, method+" "+path)
	}
	// The open pages answer GET and HEAD, as on the public port, for
	// probes that use HEAD (not listed in Routes: HEAD is GET without the
	// body, as OpenAPI assumes).
	open := func(path string, h fasthttp.RequestHandler) {
		handle("GET", path, h)
		r.Handle("HEAD", path, h)
	}
	metrics := fasthttpadaptor.NewFastHTTPHandler(promhttp.HandlerFor(Registry, promhttp.HandlerOpts{}))
	open("/metrics", metrics)
	// The probes also answer OPTIONS as GET, as on the public port
	// (HAProxy's default health-check method).
	probe := func(path string, h fasthttp.RequestHandler) {
		open(path, h)
		r.Handle("OPTIONS", path, h)
	}
	probe("/healthz", func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("ok\n") })
	probe("/readyz", s.serveReady)
	// The live dashboard is a static page: it asks for the token and reads
	// /admin/status and /metrics with it, so the page itself holds nothing.
	open("/dashboard", func(ctx *fasthttp.RequestCtx) {
		ctx.Response.Header.SetContentTypeBytes(ctypeHTML)
		// frame-ancestors: a page whose buttons stop a sale fleet-wide is
		// never shown inside another site's frame.
		ctx.Response.Header.Set("Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; frame-ancestors 'none'")
		ctx.Response.Header.Set("X-Frame-Options", "DENY")
		ctx.Response.SetBodyRaw(dashboardHTML)
	})
	// The description of this API is open, like /metrics: it holds no data.
	open("/admin/openapi.json", func(ctx *fasthttp.RequestCtx) {
		ctx.Response.Header.SetContentTypeBytes(ctypeJSON)
		ctx.Response.SetBodyRaw(openAPI)
	})
	// The token is checked before routing (adminAuth), so auth only
	// hands the handler its call.
	auth := func(h func(a *AdminCall)) fasthttp.RequestHandler {
		return func(ctx *fasthttp.RequestCtx) {
			call := &AdminCall{Ctx: ctx, Instance: s.Instance(), Deps: deps, server: s, reload: reload}
			h(call)
			if !ctx.IsGet() && !ctx.IsHead() {
				audit(s.log, call)
			}
		}
	}
	// none is a call that takes no query parameter: ?dry=1 on a reload is
	// refused, not ignored (the operator would get a real reload).
	none := func(h func(a *AdminCall)) func(a *AdminCall) {
		return func(a *AdminCall) {
			if a.Query("bad_query") {
				h(a)
			}
		}
	}
	// Every admin call is registered by the module that owns its state
	// (core.go for gateway's, each filter package for its own).
	for _, ar := range adminRoutes() {
		h := ar.Handler
		if !ar.TakesQuery {
			h = none(h)
		}
		handle(ar.Method, ar.Path, auth(h))
	}
	r.NotFound = func(ctx *fasthttp.RequestCtx) {
		(&AdminCall{Ctx: ctx}).Error(404, "not_found", "no such admin endpoint")
	}
	r.MethodNotAllowed = func(ctx *fasthttp.RequestCtx) {
		(&AdminCall{Ctx: ctx}).Error(405, "method_not_allowed", "this admin endpoint takes another method")
	}
	const readTimeout, writeTimeout, idleTimeout = 10 * time.Second, 30 * time.Second, time.Minute
	ad.conns = newConnTracker(deadlineTick(readTimeout, writeTimeout, idleTimeout))
	ad.srv = &fasthttp.Server{
		Handler: adminAuth(token, s.log, r.Handler), NoDefaultServerHeader: true,
		ReadTimeout: readTimeout, WriteTimeout: writeTimeout, IdleTimeout: idleTimeout,
		MaxRequestBodySize: adminMaxBody,
		Logger:             newFasthttpLog(s.log, s.deps.Now),
		ErrorHandler:       adminErrorHandler(s.log),
	}
	return ad, nil
}

// adminMaxBody bounds an admin call's body (a reservation list, say).
const adminMaxBody = 8 << 20

// adminErrorHandler is errorHandler for the admin listener, which also
// logs the calls refused before any handler ran (a body over 8 MiB: 413,
// oversized headers, a malformed or late request), so that no refused
// call is missing from the audit trail. Anyone can cause one, token or
// not, so one line per connLogEvery says how many, as for refused tokens.
func adminErrorHandler(log *slog.Logger) func(*fasthttp.RequestCtx, error) {
	var every sampled
	return func(ctx *fasthttp.RequestCtx, err error) {
		errorHandler(ctx, err)
		held, ok := every.allow()
		if !ok || log == nil {
			return
		}
		// fasthttp's header errors quote the request's first and last
		// bytes, the Authorization header among them: redacted, as the
		// public port's lines are. Method and path only when the header
		// was read (a body too large); otherwise they are fasthttp's
		// defaults, not the caller's.
		attrs := []any{"status", ctx.Response.StatusCode(), "reason", string(ctx.Response.Header.Peek(ReasonHeader)),
			"remote", ctx.RemoteIP().String(), "err", redactQuoted(err.Error()), "not_logged_since_last", held,
			"note", "at most one a " + connLogEvery.String()}
		if errors.Is(err, fasthttp.ErrBodyTooLarge) {
			attrs = append(attrs, "method", string(ctx.Method()), "path", string(ctx.Path()))
		}
		log.Warn("admin call refused before it was read", attrs...)
	}
}

// Routes lists every route of the admin listener as "METHOD /path", in
// registration order: what /admin/openapi.json must describe.
func (a *Admin) Routes() []string { return append([]string(nil), a.routes...) }

// Handler is the admin listener's request handler, for tests that drive
// it without a network.
func (a *Admin) Handler() fasthttp.RequestHandler { return a.srv.Handler }

// Serve accepts admin connections on ln.
func (a *Admin) Serve(ln net.Listener) error { return a.srv.Serve(a.conns.wrap(ln)) }

// Shutdown stops the admin server, giving connections that have not sent
// a byte DrainGrace, like the public one.
func (a *Admin) Shutdown(ctx context.Context) error {
	a.conns.drain(DrainGrace)
	return a.srv.ShutdownWithContext(ctx)
}

// adminReload answers 200 with the settings the reload could not apply
// live (an empty list when it applied all), or 422 with every problem of
// the file, one per entry, the running config unchanged.
func adminReload(a *AdminCall) {
	rep, err := a.reload()
	if err != nil {
		a.reason = "config_invalid" // for the audit line, as Error sets it
		a.JSON(422, map[string]any{"error": "config_invalid", "status": 422,
			"message": "the config was not reloaded; the running config stays", "errors": conf.Problems(err)})
		return
	}
	if rep.NotApplied == nil {
		rep.NotApplied = []NotApplied{}
	}
	if rep.NotLoaded == nil {
		rep.NotLoaded = []string{}
	}
	a.JSON(200, map[string]any{"reloaded": true, "not_applied": rep.NotApplied, "not_loaded": rep.NotLoaded})
}

func withActivity(h func(a *AdminCall, act *Activity)) func(a *AdminCall) {
	return func(a *AdminCall) {
		act := a.Instance.Activities[a.Param("id")]
		if act == nil {
			a.Error(404, "unknown_activity", "no activity "+strconv.Quote(a.Param("id"))+" in the running config")
			return
		}
		if a.Deps.Stock == nil {
			a.Error(503, "no_stock_store", "no stock store is configured")
			return
		}
		h(a, act)
	}
}

func adminCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 5*time.Second)
}

func adminStatus(a *AdminCall) {
	in := a.Instance
	now := time.Now()
	acts := make([]statusActivity, 0, len(in.ActivityList))
	for _, act := range in.ActivityList {
		phase, _ := act.PhaseAt(now)
		sa := statusActivity{ID: act.ID, Product: act.Product, Phase: PhaseName(phase), Configured: act.Stock}
		if a.Deps.Stock != nil {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			c, err := a.Deps.Stock.Counts(ctx, act.ID)
			cancel()
			switch {
			case errors.Is(err, stock.ErrNotLoaded):
				sa.StockError = "not_loaded"
			case err != nil:
				sa.StockError = "store_unavailable"
			default:
				sa.Counts = &c
			}
		}
		acts = append(acts, sa)
	}
	a.JSON(200, map[string]any{
		"server_time": Millis(now), "inflight": a.server.inflight.Load(),
		"routes": len(in.Config.Routes), "activities": acts,
	})
}
