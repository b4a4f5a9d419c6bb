package gateway

import (
	"crypto/subtle"
	"log/slog"
	"strings"

	"github.com/valyala/fasthttp"
)

// adminOpen are the admin listener's paths that need no token: they hold
// no data (the dashboard page reads its data with the token it asks for).
// /favicon.ico is there because every browser that opens the dashboard
// asks for it: a 404, not a refused token logged as someone guessing.
var adminOpen = map[string]bool{
	"/metrics": true, "/healthz": true, "/readyz": true, "/dashboard": true, "/admin/openapi.json": true,
	"/favicon.ico": true,
}

// adminAuth checks the bearer token before the router runs, for every
// path but adminOpen: a call without it gets 401 whether or not the path
// exists, so the answers do not map the API (a 404 or 405, or the
// router's redirect of /ADMIN/status, would), and a route added later
// cannot forget the check.
func adminAuth(token []byte, log *slog.Logger, next fasthttp.RequestHandler) fasthttp.RequestHandler {
	// A refused token is the audit trail of someone guessing it; anyone
	// can cause one at will, so one line per connLogEvery says how many.
	var every sampled
	return func(ctx *fasthttp.RequestCtx) {
		if !adminOpen[string(ctx.Path())] && !bearerIs(ctx.Request.Header.Peek("Authorization"), token) {
			ctx.Response.Header.Set("WWW-Authenticate", `Bearer realm="flashgate-admin"`)
			(&AdminCall{Ctx: ctx}).Error(401, "unauthorized", "a valid admin bearer token is required")
			if held, ok := every.allow(); ok && log != nil {
				log.Warn("admin call refused: no valid token", "method", string(ctx.Method()), "path", string(ctx.Path()),
					"remote", ctx.RemoteIP().String(), "not_logged_since_last", held,
					"note", "at most one a "+connLogEvery.String())
			}
			return
		}
		next(ctx)
	}
}

// bearerIs reports whether an Authorization value is the bearer token:
// the scheme's case does not matter (RFC 7235), the token is compared in
// constant time.
func bearerIs(h, token []byte) bool {
	const scheme = "bearer "
	if len(h) < len(scheme) || !strings.EqualFold(string(h[:len(scheme)]), scheme) {
		return false
	}
	return subtle.ConstantTimeCompare(h[len(scheme):], token) == 1
}

// audit logs a call that changes state (every admin call but GET): who
// paused a sale, reset it with a forced warm or topped it up, and when,
// is the first question after an incident.
func audit(log *slog.Logger, a *AdminCall) {
	status := a.Ctx.Response.StatusCode()
	attrs := []any{"method", string(a.Ctx.Method()), "path", string(a.Ctx.Path()), "status", status,
		"remote", a.Ctx.RemoteIP().String()}
	if q := a.Ctx.URI().QueryString(); len(q) > 0 {
		attrs = append(attrs, "query", string(q))
	}
	if a.reason != "" {
		attrs = append(attrs, "reason", a.reason)
	}
	if status >= 400 {
		log.Warn("admin call refused", attrs...)
		return
	}
	log.Info("admin call", attrs...)
}
