package token

import (
	"bytes"
	"crypto/hmac"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flashgate/flashgate/filters/internal/keyring"
	"github.com/flashgate/flashgate/gateway"
	"github.com/flashgate/flashgate/internal/retryafter"
)

// outcome is a verification result; each failure is its own reason.
type outcome uint8

const (
	ok outcome = iota
	missing
	malformed
	forged
	tooYoung
	expired
	wrongUser
	wrongActivity
	replayed
	numOutcomes
)

var pageSpecs = [numOutcomes]gateway.PageSpec{
	missing: {Status: 403, Reason: "token_missing", Kind: "blocked",
		Message: "Please place your order from the checkout page."},
	malformed: {Status: 400, Reason: "token_malformed", Kind: "error",
		Message: "The order token is not valid. Please reload the checkout page."},
	forged: {Status: 403, Reason: "token_forged", Kind: "blocked",
		Message: "The order token is not valid. Please reload the checkout page."},
	expired: {Status: 403, Reason: "token_expired", Kind: "blocked",
		Message: "Your checkout page has expired. Please reload it."},
	wrongUser: {Status: 403, Reason: "token_wrong_user", Kind: "blocked",
		Message: "This order token belongs to another account. Please reload the checkout page."},
	wrongActivity: {Status: 403, Reason: "token_wrong_activity", Kind: "blocked",
		Message: "This order token is for another sale. Please reload the checkout page."},
	replayed: {Status: 403, Reason: "token_replayed", Kind: "blocked",
		Message: "This order token was already used. Please reload the checkout page."},
}

// maxRetryPages caps the too-young pages built (one per Retry-After
// second); a longer wait is announced as this many seconds. All of them
// are built whatever min_age is: a token signed by an instance whose clock
// is ahead waits longer than min_age, and is told so (README: clocks must
// agree to well within min_age).
const maxRetryPages = 60

// tooYoungSpec is the page for a token that needs secs more seconds.
func tooYoungSpec(secs int) gateway.PageSpec {
	return gateway.PageSpec{Status: 429, Reason: "token_too_young", Kind: "rate_limited", RetryAfter: secs,
		Message: "Not so fast: please confirm your order again in a moment."}
}

// filter verifies order tokens with no I/O unless single_use is set.
type filter struct {
	ring     *keyring.Ring
	minAgeMs int64
	maxAgeMs int64
	header   []byte
	param    string
	replay   *replay
	pages    [numOutcomes]*gateway.Page
	young    []*gateway.Page // young[i] has Retry-After i+1, up to maxRetryPages
}

func (f *filter) buildPages(env *gateway.Env) error {
	for o, s := range pageSpecs {
		if s.Reason == "" {
			continue
		}
		p, err := env.Page(s)
		if err != nil {
			return err
		}
		f.pages[o] = p
	}
	for i := 1; i <= maxRetryPages; i++ {
		p, err := env.Page(tooYoungSpec(i))
		if err != nil {
			return err
		}
		f.young = append(f.young, p)
	}
	return nil
}

// scratch holds a decoded token and its MAC, pooled so that verifying
// allocates nothing.
type scratch struct {
	bin [maxBinary]byte
	sum [32]byte
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// Handle checks the token: present, well formed, signed by a known key,
// for this activity and user, old enough and not too old; then, with
// single_use, not seen before. The replay check comes last so that a
// request refused for any other reason does not use the token up.
func (f *filter) Handle(r *gateway.Request) (gateway.Verdict, error) {
	raw := f.extract(r.Ctx)
	if len(raw) == 0 {
		return gateway.RejectWith(f.pages[missing]), nil
	}
	sc := scratchPool.Get().(*scratch)
	t, o := f.verify(raw, sc)
	if o == ok {
		o = f.bind(&t, r)
	}
	var err error
	if o == ok && f.replay != nil {
		o, err = f.replay.claim(t.nonce)
	}
	scratchPool.Put(sc)
	switch {
	case err != nil:
		return gateway.Pass, err
	case o == ok:
		return gateway.Pass, nil
	case o == tooYoung:
		return gateway.RejectWith(f.youngPage(t.issuedMs + f.minAgeMs - r.Now.UnixMilli())), nil
	}
	return gateway.RejectWith(f.pages[o]), nil
}

// Undo gives a single_use token back when a later filter refused its
// request with "try again" (503 busy, 429): the purchase did not happen,
// so the client's retry with the same token, as Retry-After invites,
// passes instead of getting token_replayed. Only a token this filter
// accepted reaches here (the chain undoes the filters that passed).
func (f *filter) Undo(r *gateway.Request) {
	if f.replay == nil {
		return
	}
	raw := f.extract(r.Ctx)
	sc := scratchPool.Get().(*scratch)
	if t, o := f.verify(raw, sc); o == ok {
		f.replay.giveBack(t.nonce)
	}
	scratchPool.Put(sc)
}

// extract finds the token: the header, else the query string, else an
// urlencoded form body. The slice is only valid during the request.
func (f *filter) extract(ctx *fasthttp.RequestCtx) []byte {
	if f.header != nil {
		if v := ctx.Request.Header.PeekCanonical(f.header); len(v) > 0 {
			return v
		}
	}
	if f.param == "" {
		return nil
	}
	if v := ctx.QueryArgs().Peek(f.param); len(v) > 0 {
		return v
	}
	return ctx.PostArgs().Peek(f.param)
}

// verify decodes raw into sc and checks its tag.
func (f *filter) verify(raw []byte, sc *scratch) (fields, outcome) {
	if len(raw) > maxText {
		return fields{}, malformed
	}
	bin, good := keyring.Decode(sc.bin[:], raw)
	if !good {
		return fields{}, malformed
	}
	t, good := parse(bin)
	if !good {
		return t, malformed
	}
	k := f.ring.Lookup(t.kid)
	if k == nil {
		return t, forged
	}
	k.Sum(&sc.sum, domain, t.body)
	if !hmac.Equal(sc.sum[:tagLen], t.tag) {
		return t, forged
	}
	return t, ok
}

// bind checks an authentic token against the request: activity, user and
// age. A token from a clock slightly ahead counts as too young.
func (f *filter) bind(t *fields, r *gateway.Request) outcome {
	now := r.Now.UnixMilli()
	switch {
	case !bytes.Equal(t.act, r.Activity.IDBytes):
		return wrongActivity
	case !bytes.Equal(t.user, r.User):
		return wrongUser
	case now < t.issuedMs+f.minAgeMs:
		return tooYoung
	case now >= t.issuedMs+f.maxAgeMs:
		return expired
	}
	return ok
}

// youngPage picks the page whose Retry-After is the remaining wait
// rounded up to whole seconds.
func (f *filter) youngPage(remainingMs int64) *gateway.Page {
	secs := min(retryafter.Seconds(time.Duration(remainingMs)*time.Millisecond), len(f.young))
	return f.young[secs-1]
}
