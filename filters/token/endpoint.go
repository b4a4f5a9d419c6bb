package token

import (
	"crypto/rand"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flashgate/flashgate/filters/internal/keyring"
	"github.com/flashgate/flashgate/gateway"
)

// endpoint issues order tokens to the checkout page:
//
//	{"token":"...","issued_at":"...","usable_from":"...","expires_at":"..."}
//
// The times tell the page when its purchase button may fire (usable_from)
// and when to fetch a new token (expires_at). It never caches: each token
// has its own nonce.
type endpoint struct {
	ring    *keyring.Ring
	minAge  time.Duration
	maxAge  time.Duration
	unauth  *gateway.Page
	badUser *gateway.Page
	closed  *gateway.Page
}

type issueBuf struct {
	bin   [maxBinary]byte
	nonce [nonceLen]byte
	sum   [32]byte
	out   []byte
}

var issuePool = sync.Pool{New: func() any { return &issueBuf{out: make([]byte, 0, 512)} }}

// Respond issues a token for the route's activity to the identified user.
func (e *endpoint) Respond(r *gateway.Request) {
	if r.Anonymous() {
		e.unauth.WriteJSON(r.Ctx)
		return
	}
	if _, open := r.Activity.SaleWindow(r.Now); !open { // opens with the sale, Early included
		e.closed.WriteJSON(r.Ctx)
		return
	}
	b := issuePool.Get().(*issueBuf)
	defer issuePool.Put(b)
	_, _ = rand.Read(b.nonce[:]) // never fails since Go 1.24
	now := r.Now
	out := append(b.out[:0], `{"token":"`...)
	out, good := appendToken(out, b.bin[:], e.ring.Primary(), now.UnixMilli(), b.nonce[:], r.User, r.Activity.IDBytes, &b.sum)
	if !good {
		e.badUser.WriteJSON(r.Ctx)
		return
	}
	out = append(out, `","issued_at":"`...)
	out = now.UTC().AppendFormat(out, gateway.RFC3339Milli)
	out = append(out, `","usable_from":"`...)
	out = now.Add(e.minAge).UTC().AppendFormat(out, gateway.RFC3339Milli)
	out = append(out, `","expires_at":"`...)
	out = now.Add(e.maxAge).UTC().AppendFormat(out, gateway.RFC3339Milli)
	out = append(out, "\"}\n"...)
	b.out = out
	resp := &r.Ctx.Response
	resp.SetStatusCode(fasthttp.StatusOK)
	gateway.SetPrivateJSON(&resp.Header)
	resp.SetBody(out)
}
