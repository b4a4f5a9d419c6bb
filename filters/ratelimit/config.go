// Package ratelimit is the rate_limit filter: layered request-rate limits
// (global, route, IP, user, hot item), decided in memory with GCRA or,
// when distributed, by one Lua script on a Redis bucket that every gateway
// instance shares.
package ratelimit

import (
	"math"
	"time"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/gateway"
)

func init() {
	gateway.Register(gateway.Module{Name: "rate_limit", Filters: []gateway.FilterInfo{
		{Type: "rate_limit", New: func() gateway.FilterConfig { return newConfig() }},
	}})
}

// defaultTimeout is redis_timeout's default: a slow Redis must cost a
// request little more than the local checks before it.
const defaultTimeout = 50 * time.Millisecond

// newConfig returns a Config with its defaults set.
func newConfig() *Config {
	return &Config{Scope: "ip", OnRedisError: "deny", Instances: 1, RedisTimeout: defaultTimeout, MaxKeys: 1_000_000}
}

// Config is the settings block of a rate_limit entry.
type Config struct {
	// Scope is what one bucket counts. Default "ip".
	//   global: every request of every route of the instance (of the whole
	//           fleet when distributed) that names the same bucket
	//   route:  every request of this route
	//   ip:     each client address
	//   user:   each authenticated user; anonymous requests are counted by
	//           their IP instead, so dropping the login does not escape
	//           the limit (put identity before this filter)
	//   item:   each activity, to protect a hot item; the route path needs
	//           {activity}
	Scope string `mapstructure:"scope"`
	// Rate is the sustained rate per bucket, requests per second.
	// Required, > 0; fractions are allowed (0.5 is one every 2 s).
	Rate float64 `mapstructure:"rate"`
	// Burst is how many requests an idle bucket admits at once. >= 1.
	// Default (or 0): max(1, floor(rate)).
	Burst int `mapstructure:"burst"`
	// Name is the bucket namespace. Entries with the same scope and name
	// share their buckets, in memory and in Redis, and must then agree on
	// every other setting (two entries naming one bucket on the same route
	// count a request twice). Default: "" for global (one global bucket
	// per instance, or per fleet when distributed); for the other scopes
	// the entry's own YAML path, so each entry limits on its own.
	Name string `mapstructure:"name"`
	// Distributed keeps the buckets in Redis (redis.addrs must be set), so
	// the limit holds across every gateway instance. Default false.
	Distributed bool `mapstructure:"distributed"`
	// OnRedisError is what a distributed limit does when Redis fails or is
	// slower than redis_timeout: "deny" reports the failure to the chain
	// (503 busy unless the entry says on_error: allow); "local" decides
	// with an in-memory bucket at rate/instances. Default "deny".
	OnRedisError string `mapstructure:"on_redis_error"`
	// Instances is the number of gateway instances sharing a distributed
	// limit, to size the local fallback's share. >= 1. Default 1.
	Instances int `mapstructure:"instances"`
	// RedisTimeout bounds one Redis call of a distributed limit. > 0.
	// Default 50ms.
	RedisTimeout time.Duration `mapstructure:"redis_timeout"`
	// MaxKeys bounds the in-memory keys (IPs, users) of one bucket
	// namespace. Idle keys are dropped in the background; beyond the cap
	// the oldest keys are dropped first and start again with a full
	// bucket. > 0. Default 1000000.
	MaxKeys int `mapstructure:"max_keys"`
}

// maxRate keeps the emission interval at 1 ns or more.
const maxRate = 1e9

// Validate checks the settings without I/O.
func (c *Config) Validate(at conf.At) {
	if _, ok := scopeByName[c.Scope]; !ok {
		at.Addf("scope", "must be one of global, route, ip, user, item; got %q", c.Scope)
	}
	switch {
	case !(c.Rate > 0): // also catches NaN
		at.Addf("rate", "must be > 0, got %v", c.Rate)
	case c.Rate > maxRate || math.IsInf(c.Rate, 0):
		at.Addf("rate", "must be <= 1e9, got %v", c.Rate)
	}
	if c.Burst < 0 {
		at.Addf("burst", "must be >= 1 (or 0 for max(1, rate)), got %d", c.Burst)
	}
	if c.OnRedisError != "deny" && c.OnRedisError != "local" {
		at.Addf("on_redis_error", "must be deny or local, got %q", c.OnRedisError)
	}
	if c.Instances < 1 {
		at.Addf("instances", "must be >= 1, got %d", c.Instances)
	}
	if c.RedisTimeout <= 0 {
		at.Addf("redis_timeout", "must be > 0, got %s", c.RedisTimeout)
	}
	if c.MaxKeys < 1 {
		at.Addf("max_keys", "must be > 0, got %d", c.MaxKeys)
	}
}

// burst is the effective burst: the configured one, or max(1, floor(rate)).
func (c *Config) burst() int {
	if c.Burst > 0 {
		return c.Burst
	}
	return int(max(1, math.Floor(min(c.Rate, maxRate))))
}

var (
	_ gateway.FilterConfig = (*Config)(nil)
	_ gateway.Filter       = (*filter)(nil)
)
