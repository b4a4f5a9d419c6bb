package gateway

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/internal/breaker"
	"github.com/flashgate/flashgate/internal/orderkey"
)

// Upstream forwards admitted requests to one order backend over long-lived
// connection pools, one fasthttp.HostClient per address behind an LBClient.
type Upstream struct {
	name    string
	lb      *fasthttp.LBClient
	timeout time.Duration
	log     *slog.Logger

	badGateway, upstreamError, gatewayTimeout, poolBusy *Page
	breaker                                             *breaker.Breaker
	results                                             [8]prometheus.Counter // by result class
	duration                                            prometheus.Observer
	// units gives back the unit of an order that certainly failed.
	units *Units
}

const (
	res2xx = iota
	res3xx
	res4xx
	res5xx
	resTimeout
	resUnreachable
	resError
	resPoolFull
)

var resultNames = [...]string{"2xx", "3xx", "4xx", "5xx", "timeout", "unreachable", "error", "pool_full"}

func newUpstream(c conf.Upstream, log *slog.Logger, pages *Pages, now func() time.Time, units *Units) *Upstream {
	u := &Upstream{name: c.Name, timeout: c.Timeout, log: log.With("upstream", c.Name), units: units}
	u.lb = &fasthttp.LBClient{Timeout: c.Timeout}
	for _, addr := range c.Addrs {
		u.lb.Clients = append(u.lb.Clients, &fasthttp.HostClient{
			Addr:                          addr,
			Name:                          "flashgate",
			NoDefaultUserAgentHeader:      true,
			MaxConns:                      c.MaxConns,
			MaxIdleConnDuration:           c.MaxIdleConnDuration,
			MaxResponseBodySize:           c.MaxResponseBytes,
			ReadTimeout:                   c.Timeout,
			WriteTimeout:                  c.Timeout,
			MaxConnWaitTimeout:            c.ConnectTimeout,
			DisableHeaderNamesNormalizing: true,
			DisablePathNormalizing:        true,
			Dial: func(addr string) (net.Conn, error) {
				return fasthttp.DialTimeout(addr, c.ConnectTimeout)
			},
			RetryIfErr: retryStaleConn,
		})
	}
	for i := range u.results {
		u.results[i] = upstreamTotal.WithLabelValues(c.Name, resultNames[i])
	}
	u.duration = upstreamDuration.WithLabelValues(c.Name)
	u.breaker = newUpstreamBreaker(c, now)
	u.badGateway = pages.MustGet(PageSpec{Status: 502, Reason: "upstream_unreachable", Kind: "busy", RetryAfter: 1,
		Message: "The order service cannot be reached. Please try again."})
	u.upstreamError = pages.MustGet(PageSpec{Status: 502, Reason: "upstream_error", Kind: "error",
		Message: "The order service failed to answer. Your order may still be processed; do not pay twice."})
	u.gatewayTimeout = pages.MustGet(PageSpec{Status: 504, Kind: "error", Reason: "upstream_timeout",
		Message: "The order service did not answer in time. Your order may still be processed; do not pay twice."})
	// Every connection of the pool is busy: the gateway itself is
	// saturated, so the answer is the busy page, not a backend error.
	u.poolBusy = pages.MustGet(BusyPage(1))
	return u
}

// Breaker is the upstream's circuit breaker (nil when disabled). Callers
// that forward without a route gate (queued orders) take a Ticket with
// Allow before the exchange and report it with Done, classifying the
// result with Outcome.
func (u *Upstream) Breaker() *breaker.Breaker { return u.breaker }

// Outcome classifies an exchange for the breaker: a status >= 500 or an
// error is a failure, except a full local pool, which is ignored.
func Outcome(err error, status int) breaker.Outcome { return upstreamOutcome(err, status) }

// Hop-by-hop headers (RFC 9110 7.6.1) are never forwarded, nor are the
// headers a message's Connection header names.
var hopHeaders = [][]byte{
	[]byte("Connection"), []byte("Proxy-Connection"), []byte("Keep-Alive"),
	[]byte("Proxy-Authenticate"), []byte("Proxy-Authorization"), []byte("Te"),
	[]byte("Trailer"), []byte("Transfer-Encoding"), []byte("Upgrade"),
}

var hdrConnection = []byte("Connection")

// stripHopHeaders removes the headers named by Connection, then the fixed
// hop-by-hop set. Connection lists are short; no allocation.
func stripHopHeaders(h interface {
	PeekBytes([]byte) []byte
	DelBytes([]byte)
}) {
	if v := h.PeekBytes(hdrConnection); len(v) > 0 {
		var names [8][64]byte
		var lens [8]int
		n := 0
		for len(v) > 0 && n < len(names) {
			tok := v
			if i := bytes.IndexByte(v, ','); i >= 0 {
				tok, v = v[:i], v[i+1:]
			} else {
				v = nil
			}
			// Copied: deleting a header may move the bytes v points into.
			if tok = bytes.TrimSpace(tok); len(tok) > 0 && len(tok) <= 64 {
				lens[n] = copy(names[n][:], tok)
				n++
			}
		}
		for i := 0; i < n; i++ {
			h.DelBytes(names[i][:lens[i]])
		}
	}
	for _, name := range hopHeaders {
		h.DelBytes(name)
	}
}

var (
	hdrXFF            = []byte("X-Forwarded-For")
	hdrXFProto        = []byte("X-Forwarded-Proto")
	hdrRequestID      = []byte("X-Request-Id")
	hdrUserID         = []byte("X-User-Id")
	hdrActivityID     = []byte("X-Activity-Id")
	hdrIdempotencyKey = []byte("Idempotency-Key")
	protoHTTP         = []byte("http")
	protoHTTPS        = []byte("https")
)

// Forward sends the admitted request upstream and copies the answer back.
// A held stock unit goes back when the backend certainly did not take the
// order: it was unreachable, or it answered with an error status other
// than 409 (a 409 means it already has this idempotency key). On timeout
// the outcome is unknown, so the unit stays held until the backend
// releases it through the admin API: never an oversell.
func (u *Upstream) Forward(r *Request, rewrite []byte) {
	ctx := r.Ctx
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)

	ctx.Request.CopyTo(req)
	if len(rewrite) > 0 {
		req.URI().SetPathBytes(rewrite)
	}
	u.prepare(r, req)

	start := time.Now()
	err := u.lb.DoTimeout(req, resp, u.timeout)
	u.duration.Observe(time.Since(start).Seconds())

	// The ticket the route gate took before the chain ran.
	u.breaker.Done(r.gate, upstreamOutcome(err, resp.StatusCode()))
	r.gate = breaker.Ticket{}
	switch {
	case err == nil:
		code := resp.StatusCode()
		u.results[classOf(code)].Inc()
		if code >= 400 && code != fasthttp.StatusConflict {
			u.units.GiveBack(r, "backend_rejected")
		}
		stripHopHeaders(&resp.Header)
		resp.Header.SetServerBytes(nil) // the gateway names no server
		resp.CopyTo(&ctx.Response)
	case poolFull(err):
		// No free connection within connect_timeout: the order never left
		// the gateway, so the unit goes back, and the user is told the
		// gateway is busy (the backend did nothing wrong).
		u.results[resPoolFull].Inc()
		u.units.GiveBack(r, "pool_full")
		u.poolBusy.Write(ctx)
	case notDelivered(err):
		// Never connected: the backend cannot have the order.
		u.results[resUnreachable].Inc()
		u.units.GiveBack(r, "backend_unreachable")
		u.badGateway.Write(ctx)
	case isTimeout(err):
		u.results[resTimeout].Inc()
		u.log.Warn("upstream timeout; unit stays held", "request_id", string(req.Header.PeekBytes(hdrRequestID)), "err", err)
		u.gatewayTimeout.Write(ctx)
	default:
		// The connection broke after the request may have been written:
		// the order may exist, so the unit stays held, as on a timeout.
		u.results[resError].Inc()
		u.log.Warn("upstream failed after sending; unit stays held", "request_id", string(req.Header.PeekBytes(hdrRequestID)), "err", err)
		u.upstreamError.Write(ctx)
	}
	// The request id travels back so a user's complaint can be traced.
	ctx.Response.Header.SetBytesKV(hdrRequestID, req.Header.PeekBytes(hdrRequestID))
}

// prepare rewrites the outgoing request: strip hop-by-hop headers, add
// forwarding and identity headers, and the idempotency key of a held unit.
func (u *Upstream) prepare(r *Request, req *fasthttp.Request) {
	h := &req.Header
	// A request that came over TLS has an https URI, which the upstreams'
	// plain-HTTP HostClients refuse (as a redirect to another scheme): the
	// gateway ends TLS, and X-Forwarded-Proto below says how it came.
	req.URI().SetSchemeBytes(protoHTTP)
	stripHopHeaders(h)
	// Identity comes only from the gateway, never from the client.
	h.DelBytes(hdrUserID)
	h.DelBytes(hdrActivityID)
	h.DelBytes(hdrIdempotencyKey)

	// Each proxy appends the address its connection came from.
	var buf [128]byte
	b := buf[:0]
	peer := peerAddr(r.Ctx)
	if prior := h.PeekBytes(hdrXFF); len(prior) > 0 {
		b = append(b, prior...)
		if peer.IsValid() {
			b = append(b, ", "...)
		}
	}
	if b = peer.AppendTo(b); len(b) > 0 {
		h.SetBytesKV(hdrXFF, b)
	}
	if r.Ctx.IsTLS() {
		h.SetBytesKV(hdrXFProto, protoHTTPS)
	} else {
		h.SetBytesKV(hdrXFProto, protoHTTP)
	}
	// The client's id travels on only when it is plain (wellFormedID):
	// it reaches the backend, our warnings and the response, so a JWT, a
	// newline or 8 KB of text sent as an id is replaced here, once.
	if !wellFormedID(h.PeekBytes(hdrRequestID)) {
		h.SetBytesKV(hdrRequestID, appendRequestID(buf[:0]))
	}
	if len(r.User) > 0 {
		h.SetBytesKV(hdrUserID, r.User)
	}
	if r.Activity != nil {
		h.SetBytesKV(hdrActivityID, r.Activity.IDBytes)
		if r.Ticket.Held {
			h.SetBytesKV(hdrIdempotencyKey, AppendIdempotencyKey(buf[:0], r.Activity.IDBytes, r.User, r.Ticket.Seq))
		}
	}
}

// AppendIdempotencyKey appends "activity:user:seq", the key the backend
// uses to take each admitted unit exactly once (internal/orderkey).
func AppendIdempotencyKey(dst, activity, user []byte, seq int64) []byte {
	return orderkey.Append(dst, activity, user, seq)
}

func classOf(code int) int {
	switch {
	case code < 300:
		return res2xx
	case code < 400:
		return res3xx
	case code < 500:
		return res4xx
	}
	return res5xx
}

// poolFull reports whether err is the local pool's: every one of the
// upstream's max_conns connections was busy for connect_timeout.
// retryStaleConn lets fasthttp send an order once more, on a fresh
// connection, when the first send ended with the connection closed or
// reset and no answer: what a pooled keep-alive connection that the
// backend has since closed (its idle timeout, shorter than ours; a
// restart) looks like. Without it such an order would be a 502
// upstream_error with its unit held for an order the backend never
// saw. The retry carries the same Idempotency-Key, so a backend that did
// read the first send (and died before answering) sees one order (it
// answers 409). Never after a timeout, and once.
func retryStaleConn(_ *fasthttp.Request, attempts int, err error) (resetTimeout, retry bool) {
	return false, attempts == 1 && (errors.Is(err, io.EOF) || errors.Is(err, fasthttp.ErrConnectionClosed) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE))
}

func poolFull(err error) bool { return errors.Is(err, fasthttp.ErrNoFreeConns) }

// notDelivered reports whether err proves the request never reached the
// backend: no connection could be made.
func notDelivered(err error) bool {
	if errors.Is(err, fasthttp.ErrDialTimeout) ||
		errors.Is(err, syscall.ECONNREFUSED) {
		return true
	}
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

func isTimeout(err error) bool {
	if errors.Is(err, fasthttp.ErrTimeout) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() && !errors.Is(err, fasthttp.ErrDialTimeout)
}

// Request ids are a random per-process prefix and a counter: unique, cheap
// and allocation-free.
var (
	idPrefix  = newIDPrefix()
	idCounter atomic.Uint64
)

func newIDPrefix() []byte {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return []byte(hex.EncodeToString(b[:]))
}

func appendRequestID(dst []byte) []byte {
	dst = append(dst, idPrefix...)
	dst = append(dst, '-')
	n := idCounter.Add(1)
	const digits = "0123456789abcdef"
	var tmp [16]byte
	for i := 15; i >= 0; i-- {
		tmp[i] = digits[n&0xf]
		n >>= 4
	}
	return append(dst, tmp[:]...)
}
