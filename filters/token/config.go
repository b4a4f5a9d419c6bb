package token

import (
	"errors"
	"time"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/filters/internal/keyring"
	"github.com/flashgate/flashgate/gateway"
)

func init() {
	gateway.Register(gateway.Module{
		Name:      "order_token",
		Filters:   []gateway.FilterInfo{{Type: "order_token", New: func() gateway.FilterConfig { return newConfig() }}},
		Endpoints: []gateway.EndpointInfo{{Name: "order_token", New: func() gateway.EndpointConfig { return newEndpointConfig() }}},
	})
}

// newEndpointConfig is the endpoint's defaults, the one place they are
// written.
func newEndpointConfig() *EndpointConfig {
	return &EndpointConfig{MinAge: time.Second, MaxAge: 5 * time.Minute}
}

var (
	_ gateway.FilterConfig   = (*Config)(nil)
	_ gateway.EndpointConfig = (*EndpointConfig)(nil)
	_ gateway.Filter         = (*filter)(nil)
	_ gateway.Endpoint       = (*endpoint)(nil)
)

func newConfig() *Config {
	return &Config{MinAge: time.Second, MaxAge: 5 * time.Minute, Header: "X-Order-Token",
		Param: "order_token", RedisTimeout: 50 * time.Millisecond}
}

// Limits on the ages: a token that must wait longer than maxMinAge would
// annoy real buyers, one that lives past maxMaxAge defeats the check.
const (
	maxMinAge = 10 * time.Minute
	maxMaxAge = 24 * time.Hour
)

// Config is the settings block of an order_token filter entry.
type Config struct {
	// Keys verify tokens: a token signed by any listed key id is accepted.
	// Share the list with the order_token endpoint through a YAML anchor.
	// Required.
	Keys []keyring.Key `mapstructure:"keys"`
	// MinAge is how old a token must be: a purchase sooner after loading
	// the checkout page is a bot. Default 1s.
	MinAge time.Duration `mapstructure:"min_age"`
	// MaxAge is how long a token stays usable. Default 5m.
	MaxAge time.Duration `mapstructure:"max_age"`
	// Header carries the token. Default "X-Order-Token".
	Header string `mapstructure:"header"`
	// Param is the query or urlencoded-form field tried when the header
	// is absent. Default "order_token".
	Param string `mapstructure:"param"`
	// SingleUse rejects a token seen before (token_replayed), remembering
	// nonces in Redis for max_age. A token is used up by the first request
	// that passes this filter, even if a later filter turns it away.
	// Default false.
	SingleUse bool `mapstructure:"single_use"`
	// RedisTimeout bounds the single_use check; past it the entry's
	// on_error policy applies. Default 50ms.
	RedisTimeout time.Duration `mapstructure:"redis_timeout"`
}

// EndpointConfig is the `config:` block of the order_token json action.
type EndpointConfig struct {
	// Keys sign tokens with the first key. Required.
	Keys []keyring.Key `mapstructure:"keys"`
	// MinAge and MaxAge only shape the answer (usable_from, expires_at);
	// give them the filter's values. Defaults 1s and 5m.
	MinAge time.Duration `mapstructure:"min_age"`
	MaxAge time.Duration `mapstructure:"max_age"`
}

func validateCommon(at conf.At, keys []keyring.Key, minAge, maxAge time.Duration) {
	keyring.Validate(at, "keys", keys)
	if minAge < 0 || minAge > maxMinAge {
		at.Addf("min_age", "must be in 0s..%s, got %s", maxMinAge, minAge)
	}
	if maxAge <= minAge || maxAge > maxMaxAge {
		at.Addf("max_age", "must be > min_age (%s) and <= %s, got %s", minAge, maxMaxAge, maxAge)
	}
}

// Validate reports every problem, without reading secret files.
func (c *Config) Validate(at conf.At) {
	validateCommon(at, c.Keys, c.MinAge, c.MaxAge)
	if c.Header == "" && c.Param == "" {
		at.Addf("", "one of header or param is required")
	}
	if c.Header != "" && !validName(c.Header) {
		at.Addf("header", "must be a header name, got %q", c.Header)
	}
	if c.Param != "" && !validName(c.Param) {
		at.Addf("param", "must be a plain field name, got %q", c.Param)
	}
	if c.SingleUse && (c.RedisTimeout <= 0 || c.RedisTimeout > 5*time.Second) {
		at.Addf("redis_timeout", "must be in (0s, 5s], got %s", c.RedisTimeout)
	}
}

// Validate reports every problem, without reading secret files.
func (c *EndpointConfig) Validate(at conf.At) { validateCommon(at, c.Keys, c.MinAge, c.MaxAge) }

// validName accepts header and form field names: letters, digits, - and _.
func validName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return s != ""
}

var errNoActivity = errors.New("needs {activity} in the route path: tokens are bound to an activity")

// Build makes the filter.
func (c *Config) Build(env *gateway.Env) (gateway.Filter, error) {
	if len(env.Activities) == 0 {
		return nil, errNoActivity
	}
	ring, err := keyring.Shared(env, "keys", c.Keys)
	if err != nil {
		return nil, err
	}
	if err := keyring.Pair(env, "keys", "order_token", false, ring); err != nil {
		return nil, err
	}
	f := &filter{
		ring: ring, minAgeMs: c.MinAge.Milliseconds(), maxAgeMs: c.MaxAge.Milliseconds(),
		param: c.Param,
	}
	if c.Header != "" {
		// Canonical once here, so extract can PeekCanonical (see gateway.CanonicalHeader).
		f.header = gateway.CanonicalHeader(c.Header)
	}
	if c.SingleUse {
		if env.Redis == nil {
			return nil, errors.New("single_use needs redis.addrs: used tokens are remembered in Redis")
		}
		f.replay = &replay{client: env.Redis, prefix: env.RedisPrefix(), ttl: c.MaxAge, timeout: c.RedisTimeout, breaker: env.RedisBreaker, undoing: make(chan struct{}, undoSlots)}
	}
	if err := f.buildPages(env); err != nil {
		return nil, err
	}
	return f, nil
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
	if err := keyring.Pair(env, "config.keys", "order_token", true, ring); err != nil {
		return nil, err
	}
	unauth, err := env.Page(gateway.PageSpec{Status: 401, Reason: "unauthenticated", Kind: "blocked",
		Message: "Please sign in to check out."})
	if err != nil {
		return nil, err
	}
	badUser, err := env.Page(gateway.PageSpec{Status: 400, Reason: "bad_user_id", Kind: "error",
		Message: "The user id is not valid."})
	if err != nil {
		return nil, err
	}
	// No token before the sale opens: one fetched early would already be
	// old enough when the sale starts, which is what min_age stops.
	closed, err := env.Page(gateway.PageSpec{Status: 403, Reason: "sale_closed", Kind: "not_started",
		Message: "Order tokens are handed out only while the sale is open."})
	if err != nil {
		return nil, err
	}
	return &endpoint{ring: ring, minAge: c.MinAge, maxAge: c.MaxAge, unauth: unauth, badUser: badUser, closed: closed}, nil
}
