// Package identity is the filter that says who is asking, so that every
// later filter can key on the user: per-user limits, order tokens, hidden
// purchase paths and the stock ledger. The id comes from a trusted header
// set by the shop's auth layer, or from a JWT the gateway verifies itself.
//
// Verification is written by hand (base64url into pooled buffers, a
// pooled HMAC per key, a small JSON scanner for the few claims read) so
// that an identified HS256 request costs no heap allocation. RS256 goes
// through crypto/rsa, which allocates inside the standard library.
package identity

import (
	"bytes"

	"github.com/flashgate/flashgate/gateway"
	"github.com/flashgate/flashgate/internal/userid"
)

func init() {
	gateway.Register(gateway.Module{Name: "identity", Filters: []gateway.FilterInfo{{Type: "identity", New: newConfig}}})
}

var (
	_ gateway.FilterConfig = (*Config)(nil)
	_ gateway.Filter       = (*filter)(nil)
)

// pageSpecs are the rejection pages, one per reason code.
var pageSpecs = [numOutcomes]gateway.PageSpec{
	ok: {}, // unused
	jwtMalformed: {Status: 401, Reason: "jwt_malformed", Kind: "blocked",
		Message: "Your session token is not valid. Please sign in again."},
	jwtBadSignature: {Status: 401, Reason: "jwt_bad_signature", Kind: "blocked",
		Message: "Your session token is not valid. Please sign in again."},
	jwtExpired: {Status: 401, Reason: "jwt_expired", Kind: "blocked",
		Message: "Your session has expired. Please sign in again."},
	jwtNotYetValid: {Status: 401, Reason: "jwt_not_yet_valid", Kind: "blocked",
		Message: "Your session is not valid yet. Please check your clock and sign in again."},
	jwtBadAlg: {Status: 401, Reason: "jwt_bad_alg", Kind: "blocked",
		Message: "Your session token is not valid. Please sign in again."},
	jwtBadClaims: {Status: 401, Reason: "jwt_bad_claims", Kind: "blocked",
		Message: "Your session token is not valid here. Please sign in again."},
	badUserID: {Status: 400, Reason: "bad_user_id", Kind: "error",
		Message: "The user id is not valid."},
	unauthenticated: {Status: 401, Reason: "unauthenticated", Kind: "blocked",
		Message: "Please sign in to take part in the sale."},
}

// filter sets r.User from the trusted header or a verified JWT.
type filter struct {
	header  []byte
	jwt     *verifier
	cookie  []byte
	bearer  bool
	require bool
	pages   [numOutcomes]*gateway.Page
}

var (
	headerAuthorization = []byte("Authorization")
	headerWWWAuth       = []byte("WWW-Authenticate")
	// RFC 6750: tell a bearer client what was wrong with its token.
	challengeNone    = []byte(`Bearer realm="flashgate"`)
	challengeInvalid = []byte(`Bearer realm="flashgate", error="invalid_token"`)
)

// Handle identifies the request. A present credential must be valid even
// when anonymous requests are allowed: a broken token is a client bug or
// an attack, never a reason to fall back to per-IP treatment silently.
func (f *filter) Handle(r *gateway.Request) (gateway.Verdict, error) {
	h := &r.Ctx.Request.Header
	if f.header != nil {
		if id := h.PeekCanonical(f.header); len(id) > 0 {
			if !userid.Valid(id) {
				return gateway.RejectWith(f.pages[badUserID]), nil
			}
			r.SetUser(id)
			return gateway.Pass, nil
		}
	}
	if f.jwt != nil {
		if tok, present := f.credential(r); present {
			sc := scratchPool.Get().(*scratch)
			user, o := f.jwt.verify(tok, r.Now.UnixMilli(), sc)
			if o == ok {
				r.SetUser(user)
			}
			scratchPool.Put(sc)
			if o != ok {
				if f.bearer && o != badUserID {
					r.Ctx.Response.Header.SetBytesKV(headerWWWAuth, challengeInvalid)
				}
				return gateway.RejectWith(f.pages[o]), nil
			}
			return gateway.Pass, nil
		}
	}
	if f.require {
		if f.bearer {
			r.Ctx.Response.Header.SetBytesKV(headerWWWAuth, challengeNone)
		}
		return gateway.RejectWith(f.pages[unauthenticated]), nil
	}
	return gateway.Pass, nil
}

// credential finds the token: the configured cookie, or a Bearer
// Authorization header. Another auth scheme (Basic) is not a JWT and
// counts as no credential.
func (f *filter) credential(r *gateway.Request) ([]byte, bool) {
	h := &r.Ctx.Request.Header
	if f.cookie != nil {
		v := h.CookieBytes(f.cookie)
		return v, len(v) > 0
	}
	v := h.PeekCanonical(headerAuthorization)
	if len(v) < 6 || !bytes.EqualFold(v[:6], bearerScheme) || (len(v) > 6 && v[6] != ' ') {
		return nil, false
	}
	return bytes.TrimSpace(v[6:]), true
}

var bearerScheme = []byte("Bearer")
