package gateway

import (
	"context"
	"fmt"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flashgate/flashgate/forward"
)

// Send delivers one queued order (async mode) over the same connection
// pool, breaker and result metrics as Forward, with the order's ticket as
// its Idempotency-Key, so that a redelivery after a lost answer is one
// order to a backend that honours the key. It answers the backend's
// status, a copy of its body and its Retry-After, or the transport error:
// the queue retries every error, since no answer may still mean an order.
func (u *Upstream) Send(ctx context.Context, o *forward.Order) (forward.Reply, error) {
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)

	h := &req.Header
	for _, kv := range o.Header {
		h.Add(kv[0], kv[1])
	}
	stripHopHeaders(h)
	h.DelBytes(hdrUserID)
	h.DelBytes(hdrActivityID)
	h.DelBytes(hdrIdempotencyKey)
	h.SetMethod(o.Method)
	req.SetRequestURI(o.Path)
	if len(h.Host()) == 0 {
		h.SetHost(u.name)
	}
	if len(h.PeekBytes(hdrRequestID)) == 0 {
		var buf [64]byte
		h.SetBytesKV(hdrRequestID, appendRequestID(buf[:0]))
	}
	h.Set("X-User-Id", o.User)
	h.Set("X-Activity-Id", o.Activity)
	h.Set("Idempotency-Key", o.Ticket)
	req.SetBody(o.Body)

	gate, ok := u.breaker.Allow()
	if !ok {
		return forward.Reply{}, errBreakerOpen // nothing sent: the queue waits, the attempt is not used
	}
	timeout := u.timeout
	if d, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(d))
	}
	start := time.Now()
	err := u.lb.DoTimeout(req, resp, timeout)
	u.duration.Observe(time.Since(start).Seconds())
	u.breaker.Done(gate, upstreamOutcome(err, resp.StatusCode()))
	switch {
	case err == nil:
		u.results[classOf(resp.StatusCode())].Inc()
		return forward.Reply{Status: resp.StatusCode(), Body: append([]byte(nil), resp.Body()...),
			RetryAfter: retryAfter(resp.Header.Peek("Retry-After"), time.Now())}, nil
	case notDelivered(err):
		u.results[resUnreachable].Inc()
		return forward.Reply{}, fmt.Errorf("%w: %w", forward.ErrUnreachable, err)
	case isTimeout(err):
		u.results[resTimeout].Inc()
	default:
		u.results[resError].Inc()
	}
	return forward.Reply{}, err
}

// retryAfter reads a Retry-After value: delta-seconds or an HTTP-date
// (RFC 9110 10.2.3), as a wait from now; 0 for none, a malformed one or
// a date already past. The queue caps it (queue.backoff_max).
func retryAfter(v []byte, now time.Time) time.Duration {
	if len(v) == 0 {
		return 0
	}
	const most = (1 << 20) * time.Second // 12 days: far past any backoff_max, and no overflow
	if n, err := fasthttp.ParseUint(v); err == nil {
		return time.Duration(min(n, 1<<20)) * time.Second
	}
	if t, err := fasthttp.ParseHTTPDate(v); err == nil {
		return min(max(t.Sub(now), 0), most)
	}
	return 0
}

// errBreakerOpen is Send's answer while the upstream's breaker refuses:
// the order was not sent, so the queue retries it later without counting
// an attempt (a backend down for a while does not dead-letter its orders
// by the breaker's refusals alone).
var errBreakerOpen = fmt.Errorf("upstream breaker open: %w", forward.ErrNotSent)

var _ forward.Sender = (*Upstream)(nil)
