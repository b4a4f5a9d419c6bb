package hiddenpath

import (
	"errors"
	"strings"
	"sync"

	"github.com/valyala/fasthttp"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/filters/internal/keyring"
	"github.com/flashgate/flashgate/gateway"
)

var _ gateway.EndpointConfig = (*EndpointConfig)(nil)

var errNoActivity = errors.New("needs {activity} in the route path: purchase paths are per activity")

// EndpointConfig is the `config:` block of the purchase_path json action.
type EndpointConfig struct {
	// Keys sign the segment with the first key. Required.
	Keys []keyring.Key `mapstructure:"keys"`
	// PathPrefix is the purchase route's path up to the segment;
	// {activity} is replaced by the activity id. Default
	// "/api/buy/{activity}/".
	PathPrefix string `mapstructure:"path_prefix"`
}

// Validate reports every problem, without reading secret files.
func (c *EndpointConfig) Validate(at conf.At) {
	keyring.Validate(at, "keys", c.Keys)
	if !strings.HasPrefix(c.PathPrefix, "/") || strings.ContainsAny(c.PathPrefix, " ?#\"\\") {
		at.Addf("path_prefix", "must be a path starting with / (no spaces, ?, #, quotes), got %q", c.PathPrefix)
	}
}

// Build makes the endpoint.
func (c *EndpointConfig) Build(env *gateway.Env) (gateway.Endpoint, error) {
	if len(env.Activities) == 0 {
		return nil, errNoActivity
	}
	ring, err := keyring.Shared(env, "config.keys", c.Keys) // env.Path is the action
	if err != nil {
		return nil, err
	}
	if err := keyring.Pair(env, "config.keys", "hidden_path", true, ring); err != nil {
		return nil, err
	}
	e := &endpoint{ring: ring}
	for _, a := range env.Activities {
		for len(e.prefix) <= a.Index {
			e.prefix = append(e.prefix, nil)
		}
		e.prefix[a.Index] = []byte(strings.ReplaceAll(c.PathPrefix, "{activity}", a.ID))
	}
	specs := []struct {
		p    **gateway.Page
		spec gateway.PageSpec
	}{
		{&e.unauth, gateway.PageSpec{Status: 401, Reason: "unauthenticated", Kind: "blocked", Message: "Please sign in to take part in the sale."}},
		{&e.ended, gateway.PageSpec{Status: 403, Reason: "ended", Kind: "ended", Message: "The sale has ended."}},
		{&e.badUser, gateway.PageSpec{Status: 400, Reason: "bad_user_id", Kind: "error", Message: "The user id is not valid."}},
	}
	for _, s := range specs {
		if *s.p, err = env.Page(s.spec); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// endpoint hands the purchase path to an identified user once the sale
// is open: {"path":"/api/buy/act1/<sig>"}. Before, it answers 403
// not_started with starts_at, so the page can count down; it never
// reveals a segment early, which is the point.
type endpoint struct {
	ring    *keyring.Ring
	prefix  [][]byte // by Activity.Index
	unauth  *gateway.Page
	ended   *gateway.Page
	badUser *gateway.Page
}

type respBuf struct {
	scratch
	out []byte
}

var respPool = sync.Pool{New: func() any { return &respBuf{out: make([]byte, 0, 256)} }}

// Respond answers the path, not_started, ended or unauthenticated.
func (e *endpoint) Respond(r *gateway.Request) {
	if r.Anonymous() {
		e.unauth.WriteJSON(r.Ctx)
		return
	}
	a := r.Activity
	phase, next := a.SalePhase(r.Now) // opens with the sale, Early included
	switch phase {
	case gateway.Ended:
		e.ended.WriteJSON(r.Ctx)
		return
	case gateway.NotStarted:
		b := respPool.Get().(*respBuf)
		out := append(b.out[:0], `{"error":"not_started","message":"The sale has not started yet.","status":403,"starts_at":"`...)
		out = next.UTC().AppendFormat(out, gateway.RFC3339Milli)
		out = append(out, `","server_time":"`...)
		out = r.Now.UTC().AppendFormat(out, gateway.RFC3339Milli)
		out = append(out, "\"}\n"...)
		writeJSON(r.Ctx, 403, out)
		r.Ctx.Response.Header.Set(gateway.ReasonHeader, "not_started")
		b.out = out
		respPool.Put(b)
		return
	}
	start, _ := windowStart(a, r.Now)
	b := respPool.Get().(*respBuf)
	defer respPool.Put(b)
	msg, good := message(b.msg[:0], a.IDBytes, r.User, start)
	if !good {
		e.badUser.WriteJSON(r.Ctx)
		return
	}
	e.ring.Primary().Sum(&b.sum, domain, msg)
	out := append(b.out[:0], `{"path":"`...)
	out = append(out, e.prefix[a.Index]...)
	out = keyring.AppendEncode(out, b.sum[:sigLen])
	out = append(out, "\"}\n"...)
	b.out = out
	writeJSON(r.Ctx, 200, out)
}

func writeJSON(ctx *fasthttp.RequestCtx, status int, body []byte) {
	ctx.SetStatusCode(status)
	gateway.SetPrivateJSON(&ctx.Response.Header)
	ctx.Response.SetBody(body)
}
