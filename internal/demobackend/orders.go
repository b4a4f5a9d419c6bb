package demobackend

import (
	"time"

	"github.com/valyala/fasthttp"
)

var (
	hdrIdempotencyKey = []byte("Idempotency-Key")
	hdrUserID         = []byte("X-User-Id")
	hdrActivityID     = []byte("X-Activity-Id")
	hdrRequestID      = []byte("X-Request-Id")
)

// Fixed error bodies, built once: SetBodyRaw takes them without a copy.
var (
	bodyMissingKey  = []byte(`{"error":"missing_idempotency_key"}`)
	bodyTooLarge    = []byte(`{"error":"body_too_large"}`)
	bodyInjected    = []byte(`{"error":"injected_failure"}`)
	bodyNotFound    = []byte(`{"error":"not_found"}`)
	bodyBadMethod   = []byte(`{"error":"method_not_allowed"}`)
	contentTypeJSON = []byte("application/json")
)

// createOrder is POST /orders. The dedup check, the failure roll and the
// record happen under one lock, so two concurrent requests with one key
// can never both create an order: exactly-once as the shop sees it.
func (b *Backend) createOrder(ctx *fasthttp.RequestCtx) {
	if rid := ctx.Request.Header.PeekBytes(hdrRequestID); len(rid) > 0 {
		ctx.Response.Header.SetBytesKV(hdrRequestID, rid)
	}
	key := ctx.Request.Header.PeekBytes(hdrIdempotencyKey)
	if len(key) == 0 {
		writeJSON(ctx, fasthttp.StatusBadRequest, bodyMissingKey)
		return
	}
	if len(ctx.Request.Body()) > MaxBodySize {
		writeJSON(ctx, fasthttp.StatusRequestEntityTooLarge, bodyTooLarge)
		return
	}
	b.load.enter()
	defer b.load.leave()
	if b.workers != nil {
		b.workers <- struct{}{}
		defer func() { <-b.workers }()
	}
	if b.opts.Latency > 0 {
		time.Sleep(b.opts.Latency)
	}

	b.mu.Lock()
	first, dup := b.byKey[string(key)] // a m[string(b)] lookup does not allocate
	if dup && !b.opts.AllowDuplicates {
		b.duplicates++
		b.mu.Unlock()
		var arr [96]byte
		buf := append(arr[:0], `{"error":"duplicate","order_id":"o-`...)
		buf = fasthttp.AppendUint(buf, int(first))
		buf = append(buf, `"}`...)
		writeJSONCopy(ctx, fasthttp.StatusConflict, buf)
		return
	}
	if b.fail() {
		b.mu.Unlock()
		writeJSON(ctx, fasthttp.StatusInternalServerError, bodyInjected)
		return
	}
	b.orders++
	id := b.orders
	var ua [256]byte
	u := append(append(append(ua[:0], ctx.Request.Header.PeekBytes(hdrActivityID)...), 0), ctx.Request.Header.PeekBytes(hdrUserID)...)
	if _, seen := b.byUser[string(u)]; seen {
		b.repeats++
	} else {
		b.byUser[string(u)] = struct{}{}
	}
	if dup {
		b.duplicates++
	} else {
		b.byKey[string(key)] = id
	}
	b.mu.Unlock()
	b.load.created(time.Now())

	var arr [256]byte
	buf := append(arr[:0], `{"order_id":"o-`...)
	buf = fasthttp.AppendUint(buf, int(id))
	buf = append(buf, `","idempotency_key":`...)
	buf = appendJSONString(buf, key)
	buf = append(buf, `,"user":`...)
	buf = appendJSONString(buf, ctx.Request.Header.PeekBytes(hdrUserID))
	buf = append(buf, `,"activity":`...)
	buf = appendJSONString(buf, ctx.Request.Header.PeekBytes(hdrActivityID))
	buf = append(buf, '}')
	writeJSONCopy(ctx, fasthttp.StatusCreated, buf)
}

// count is GET /orders/count.
func (b *Backend) count(ctx *fasthttp.RequestCtx) {
	b.mu.Lock()
	orders, dups := b.orders, b.duplicates
	b.mu.Unlock()
	var arr [64]byte
	buf := append(arr[:0], `{"orders":`...)
	buf = fasthttp.AppendUint(buf, int(orders))
	buf = append(buf, `,"duplicates":`...)
	buf = fasthttp.AppendUint(buf, int(dups))
	buf = append(buf, '}')
	writeJSONCopy(ctx, fasthttp.StatusOK, buf)
}

// users is GET /orders/users: how many distinct (activity, user) pairs
// have an order, and how many orders went to a pair that had one already.
func (b *Backend) users(ctx *fasthttp.RequestCtx) {
	b.mu.Lock()
	users, repeats := len(b.byUser), b.repeats
	b.mu.Unlock()
	var arr [64]byte
	buf := append(arr[:0], `{"users":`...)
	buf = fasthttp.AppendUint(buf, users)
	buf = append(buf, `,"repeat_users":`...)
	buf = fasthttp.AppendUint(buf, int(repeats))
	buf = append(buf, '}')
	writeJSONCopy(ctx, fasthttp.StatusOK, buf)
}

func methodNotAllowed(ctx *fasthttp.RequestCtx, allow string) {
	ctx.Response.Header.Set(fasthttp.HeaderAllow, allow)
	writeJSON(ctx, fasthttp.StatusMethodNotAllowed, bodyBadMethod)
}

// writeJSON sends a package-level body without copying it.
func writeJSON(ctx *fasthttp.RequestCtx, status int, body []byte) {
	ctx.SetStatusCode(status)
	ctx.SetContentTypeBytes(contentTypeJSON)
	ctx.Response.SetBodyRaw(body)
}

// writeJSONCopy sends a body built in a stack buffer, which must be copied.
func writeJSONCopy(ctx *fasthttp.RequestCtx, status int, body []byte) {
	ctx.SetStatusCode(status)
	ctx.SetContentTypeBytes(contentTypeJSON)
	ctx.SetBody(body)
}
