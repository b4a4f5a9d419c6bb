// Package hiddenpath hides the purchase URL until the sale opens (link
// encryption in the flash-sale design). The real purchase path carries a
// per-user, per-activity, per-window HMAC segment, e.g.
// /api/buy/act1/3q2-7wZx1cU4XyZbkVQx9A, which only the purchase_path
// endpoint hands out, and only once the sale has started. A bot that
// scripts the purchase URL ahead of time, guesses it, or borrows another
// user's link gets the same 404 as a page that does not exist.
//
//	sig = base64url(HMAC-SHA256(key, "flashgate/hidden_path/v1\x00" ||
//	      activity || 0x00 || user || 0x00 || window start, unix ms,
//	      8 bytes big-endian; 0 for an unbounded window)[:16])
//
// The window start makes a link die with its window: a sale with two
// windows hands out new links for the second. Every key of the ring is
// tried, so a rotation does not break links handed out just before it.
package hiddenpath

import (
	"crypto/hmac"
	"encoding/binary"
	"fmt"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/filters/internal/keyring"
	"github.com/flashgate/flashgate/gateway"
)

func init() {
	gateway.Register(gateway.Module{
		Name:      "hidden_path",
		Filters:   []gateway.FilterInfo{{Type: "hidden_path", New: func() gateway.FilterConfig { return newConfig() }}},
		Endpoints: []gateway.EndpointInfo{{Name: "purchase_path", New: func() gateway.EndpointConfig { return newEndpointConfig() }}},
	})
}

// newConfig and newEndpointConfig are the defaults, the one place they
// are written.
func newConfig() *Config                 { return &Config{Param: "sig"} }
func newEndpointConfig() *EndpointConfig { return &EndpointConfig{PathPrefix: "/api/buy/{activity}/"} }

var (
	_ gateway.FilterConfig = (*Config)(nil)
	_ gateway.Filter       = (*filter)(nil)
)

// Config is the settings block of a hidden_path filter entry.
type Config struct {
	// Keys verify the path segment; any listed key is accepted. Share the
	// list with the purchase_path endpoint through a YAML anchor. Required.
	Keys []keyring.Key `mapstructure:"keys"`
	// Param is the route path parameter holding the segment: the route
	// path must contain it, as in /api/buy/{activity}/{sig}. Default "sig".
	Param string `mapstructure:"param"`
}

// Validate reports every problem, without reading secret files.
func (c *Config) Validate(at conf.At) {
	keyring.Validate(at, "keys", c.Keys)
	if !validParam(c.Param) {
		at.Addf("param", "must be a route parameter name ([A-Za-z0-9_]+), got %q", c.Param)
	}
}

func validParam(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return s != ""
}

// Build makes the filter.
func (c *Config) Build(env *gateway.Env) (gateway.Filter, error) {
	if len(env.Activities) == 0 {
		return nil, errNoActivity
	}
	if env.RoutePath != "" && !strings.Contains(env.RoutePath, "{"+c.Param+"}") {
		return nil, fmt.Errorf("param: the route path %q has no {%s} to read the signature from", env.RoutePath, c.Param)
	}
	ring, err := keyring.Shared(env, "keys", c.Keys)
	if err != nil {
		return nil, err
	}
	if err := keyring.Pair(env, "keys", "hidden_path", false, ring); err != nil {
		return nil, err
	}
	// The same spec as the router's own 404, so the page is shared and a
	// wrong link cannot be told apart from a missing page.
	nf, err := env.Page(gateway.PageSpec{Status: 404, Reason: "not_found", Kind: "not_found", Message: "No such page."})
	if err != nil {
		return nil, err
	}
	return &filter{ring: ring, paramKey: c.Param, notFound: nf}, nil
}

// Segment format.
const (
	sigLen  = 16
	sigText = 22 // base64url of 16 bytes, unpadded
)

var domain = []byte("flashgate/hidden_path/v1\x00")

// filter admits a request only when its path segment is the one the
// endpoint would hand this user for this activity's current window.
type filter struct {
	ring *keyring.Ring
	// paramKey is the parameter name boxed once: boxing a string per
	// request to call UserValue would allocate.
	paramKey any
	notFound *gateway.Page
}

// scratch is pooled: the HMAC input goes through an interface, so it must
// not live on the stack.
type scratch struct {
	msg [512]byte // activity (<= 64) and user ids (<= 128) with room to spare
	sig [sigLen + 2]byte
	sum [32]byte
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// Handle 404s anything but the exact segment, including anonymous callers
// and a sale that is not open.
func (f *filter) Handle(r *gateway.Request) (gateway.Verdict, error) {
	sig, _ := r.Ctx.UserValue(f.paramKey).(string)
	if len(sig) != sigText || r.Anonymous() {
		return gateway.RejectWith(f.notFound), nil
	}
	start, open := windowStart(r.Activity, r.Now)
	if !open {
		return gateway.RejectWith(f.notFound), nil
	}
	sc := scratchPool.Get().(*scratch)
	good := f.check(sc, unsafe.Slice(unsafe.StringData(sig), len(sig)), r.Activity.IDBytes, r.User, start)
	scratchPool.Put(sc)
	if !good {
		return gateway.RejectWith(f.notFound), nil
	}
	return gateway.Pass, nil
}

// check decodes sig and compares it, in constant time, with the segment
// under each key.
func (f *filter) check(sc *scratch, sig, act, user []byte, start int64) bool {
	want, good := keyring.Decode(sc.sig[:], sig)
	if !good || len(want) != sigLen {
		return false
	}
	msg, good := message(sc.msg[:0], act, user, start)
	if !good {
		return false
	}
	for _, k := range f.ring.Keys() {
		k.Sum(&sc.sum, domain, msg)
		if hmac.Equal(sc.sum[:sigLen], want) {
			return true
		}
	}
	return false
}

// message appends the MAC input after the domain, without growing dst.
func message(dst, act, user []byte, start int64) ([]byte, bool) {
	if len(act)+len(user)+10 > cap(dst) {
		return nil, false
	}
	dst = append(dst, act...)
	dst = append(dst, 0)
	dst = append(dst, user...)
	dst = append(dst, 0)
	return binary.BigEndian.AppendUint64(dst, uint64(start)), true
}

// windowStart finds the window whose sale is open at now (from the
// activity's Early margin before its start, as the purchase_path endpoint
// and sale_window decide) and returns its configured start in unix ms (0
// when unbounded).
func windowStart(a *gateway.Activity, now time.Time) (int64, bool) {
	w, ok := a.SaleWindow(now)
	if !ok || w.Start.IsZero() {
		return 0, ok
	}
	return w.Start.UnixMilli(), true
}
