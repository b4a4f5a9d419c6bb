package gateway

import (
	"context"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// accessLog writes one structured line for every Nth request. The line
// carries fixed fields only (time, request id, route name, status,
// reason, duration, client ip, user): never the path, which may be a
// user's hidden purchase path, nor the query or any header but a
// well-formed X-Request-Id, so no token, JWT or secret can reach it.
//
// The unsampled path is one atomic add and a comparison, no allocation
// (TestZeroAllocs covers it with the log on); a sampled request marks its
// ctx with a pooled record that the route fills in.
type accessLog struct {
	log   *slog.Logger
	every uint64
	n     atomic.Uint64
}

// accessKey is the ctx user value of a sampled request's record.
type accessKeyType struct{}

var accessKey any = accessKeyType{}

// accessRec is what the route knows of a sampled request.
type accessRec struct {
	route string
	user  []byte
	ip    netip.Addr
}

var accessPool = sync.Pool{New: func() any { return new(accessRec) }}

func newAccessLog(log *slog.Logger, every int) *accessLog {
	if log == nil || every <= 0 {
		return nil
	}
	return &accessLog{log: log, every: uint64(every)}
}

// sample reports whether this request is logged.
func (a *accessLog) sample() bool {
	return a.n.Add(1)%a.every == 0
}

// begin marks a sampled request.
func (a *accessLog) begin(ctx *fasthttp.RequestCtx) *accessRec {
	rec := accessPool.Get().(*accessRec)
	ctx.SetUserValue(accessKey, rec)
	return rec
}

// noteRoute records the route's view of a sampled request; it is a no-op
// (one lookup in the ctx's empty user values) for the others.
func noteRoute(ctx *fasthttp.RequestCtx, rt *Route, r *Request) {
	rec, ok := ctx.UserValue(accessKey).(*accessRec)
	if !ok {
		return
	}
	rec.route = rt.Name
	if r != nil {
		rec.user = append(rec.user[:0], r.User...)
		rec.ip = r.IP
	}
}

// end writes the line of a sampled request and gives its record back.
func (a *accessLog) end(ctx *fasthttp.RequestCtx, rec *accessRec) {
	ctx.RemoveUserValue(accessKey)
	id := requestID(ctx)
	ip := rec.ip
	if !ip.IsValid() {
		ip = peerAddr(ctx)
	}
	route := rec.route
	if route == "" {
		route = "-" // not routed: a 404, 405 or OPTIONS
	}
	a.log.LogAttrs(context.Background(), slog.LevelInfo, "access",
		slog.String("request_id", id),
		slog.String("route", route),
		slog.Int("status", ctx.Response.StatusCode()),
		slog.String("reason", string(ctx.Response.Header.PeekBytes(headerReason))),
		slog.Duration("duration", time.Since(ctx.Time())),
		slog.String("client_ip", ip.String()),
		slog.String("user", string(rec.user)),
	)
	rec.route, rec.user, rec.ip = "", rec.user[:0], netip.Addr{}
	accessPool.Put(rec)
}

// requestID is the id the response carries (the proxy sets one), else a
// well-formed one the client sent, else a new one, set on the response so
// the client can quote it.
func requestID(ctx *fasthttp.RequestCtx) string {
	if v := ctx.Response.Header.PeekBytes(hdrRequestID); wellFormedID(v) {
		return string(v)
	}
	if v := ctx.Request.Header.PeekBytes(hdrRequestID); wellFormedID(v) {
		ctx.Response.Header.SetBytesKV(hdrRequestID, v)
		return string(v)
	}
	var buf [40]byte
	id := appendRequestID(buf[:0])
	ctx.Response.Header.SetBytesKV(hdrRequestID, id)
	return string(id)
}

// wellFormedID accepts a request id of up to 64 characters from
// [A-Za-z0-9_-]: no dot, so no JWT, and too short for most other tokens.
func wellFormedID(b []byte) bool {
	if len(b) == 0 || len(b) > 64 {
		return false
	}
	for _, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
