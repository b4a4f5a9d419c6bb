package gateway

import (
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flashgate/flashgate/internal/breaker"
	"github.com/flashgate/flashgate/internal/bytesconv"
)

// Request is the per-request state the chain hands to each filter. It is
// pooled: filters must not keep it, or anything in it, past Handle.
type Request struct {
	Ctx *fasthttp.RequestCtx
	// Route is the matched route.
	Route *Route
	// Activity is the sale the path names, or nil.
	Activity *Activity
	// Now is the time the request arrived (ctx.Time()), so every filter
	// judges it against the same instant.
	Now time.Time
	// IP is the client address (the trusted real-IP header when configured).
	IP netip.Addr
	// User is the authenticated user id, empty when anonymous. Set it with
	// SetUser; it is valid only until the request ends.
	User []byte
	// Ticket is the stock unit held for this request, if any.
	Ticket Ticket

	userBuf []byte
	// gate is the upstream breaker's ticket, taken by the route gate and
	// reported by Forward; one still set when the request ends is given
	// back unjudged.
	gate breaker.Ticket
}

// Ticket records a stock unit the stock filter took (through Units) for
// the request, so that the action sends the backend an idempotency key
// for it, and the gateway gives it back (Units.GiveBack) when the order
// certainly failed.
type Ticket struct {
	// Held is true when a unit was taken.
	Held bool
	// Seq is the user's purchase number in the activity (1 for the first).
	Seq int64
}

// SetUser records the authenticated user id, copying b.
func (r *Request) SetUser(b []byte) {
	r.userBuf = append(r.userBuf[:0], b...)
	r.User = r.userBuf
}

// Anonymous reports whether no identity filter set a user.
func (r *Request) Anonymous() bool { return len(r.User) == 0 }

var requestPool = sync.Pool{New: func() any { return new(Request) }}

func acquireRequest(ctx *fasthttp.RequestCtx, rt *Route, a *Activity, realIP []byte) *Request {
	r := requestPool.Get().(*Request)
	r.Ctx = ctx
	r.Route = rt
	r.Activity = a
	r.Now = ctx.Time()
	r.IP = clientIP(ctx, realIP)
	return r
}

func releaseRequest(r *Request) {
	r.Ctx, r.Route, r.Activity = nil, nil, nil
	r.User = nil
	r.userBuf = r.userBuf[:0]
	r.Ticket = Ticket{}
	r.gate = breaker.Ticket{}
	requestPool.Put(r)
}

// clientIP takes the address from the trusted header when one is configured
// and parses, else from the connection. In an X-Forwarded-For style list
// the last entry is the one the trusted proxy appended; entries left of it
// come from the client and could be forged. header is canonical
// (CanonicalHeader).
func clientIP(ctx *fasthttp.RequestCtx, header []byte) netip.Addr {
	if len(header) > 0 {
		if v := ctx.Request.Header.PeekCanonical(header); len(v) > 0 { // header is canonical (CanonicalHeader)
			for i := len(v) - 1; i >= 0; i-- {
				if v[i] == ',' {
					v = v[i+1:]
					break
				}
			}
			if a, err := netip.ParseAddr(bytesconv.String(bytesconv.TrimOWS(v))); err == nil {
				return a.Unmap()
			}
		}
	}
	return peerAddr(ctx)
}

// peerAddr is the address of the TCP peer.
func peerAddr(ctx *fasthttp.RequestCtx) netip.Addr {
	if ta, ok := ctx.RemoteAddr().(*net.TCPAddr); ok {
		if a, ok := netip.AddrFromSlice(ta.IP); ok {
			return a.Unmap()
		}
	}
	return netip.Addr{}
}

// CanonicalHeader is name in the form fasthttp stores a parsed request's
// header names in (it normalises them as it parses: server.go keeps
// DisableHeaderNamesNormalizing off), for lookups with PeekCanonical.
// PeekBytes copies and normalises its key on every call; for the three
// headers a page answer reads that was 1,400 of its ~15,000 instructions
// (callgrind, bench BenchmarkConn/page_plain). Resolve configured names
// with it at build time; the hot path then compares bytes only.
func CanonicalHeader(name string) []byte {
	return fasthttp.AppendNormalizedHeaderKey(nil, name)
}
