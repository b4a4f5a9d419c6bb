package conf

import "time"

// The redis section: its schema and its checks.

// Redis configures the shared Redis (standalone or cluster).
type Redis struct {
	// Addrs are host:port seeds; a cluster is detected automatically.
	// Default none.
	Addrs []string `mapstructure:"addrs"`
	// Username and Password authenticate, when set.
	Username string `mapstructure:"username"`
	Password string `mapstructure:"password"`
	// Timeout bounds every Redis call on the request path; past it the
	// request fails closed. Default 100ms.
	Timeout time.Duration `mapstructure:"timeout"`
	// DialTimeout bounds connecting. Default 1s.
	DialTimeout time.Duration `mapstructure:"dial_timeout"`
	// Prefix is put before every key flashgate writes. Default "fg:".
	Prefix string `mapstructure:"prefix"`
	// BreakerFailures: after this many consecutive request-path Redis
	// failures (no answer within the filter's timeout, or a broken
	// connection) the Redis breaker opens, and purchases answer 503 busy
	// at once, with no Redis call, instead of each waiting out its
	// timeout. Default 5; -1 disables.
	BreakerFailures int `mapstructure:"breaker_failures"`
	// BreakerOpen is how long the Redis breaker stays open before it
	// turns half-open. Default 1s.
	BreakerOpen time.Duration `mapstructure:"breaker_open"`
	// BreakerProbes is how many calls a half-open Redis breaker lets
	// through at once, and how many successes close it. 1..1000. Default 1.
	BreakerProbes int `mapstructure:"breaker_probes"`
	// WaitReplicas, when > 0, makes every stock decision that takes a
	// unit wait until that many replicas acknowledged it (Redis WAIT on
	// the same connection, right after the script); a unit fewer replicas
	// acknowledged within WaitTimeout is given back and the purchase
	// answered 503 busy. 0..64. Default 0: no wait (a failover can lose
	// acknowledged admissions; README, "Durability").
	WaitReplicas int `mapstructure:"wait_replicas"`
	// WaitTimeout bounds that wait, in whole milliseconds, and must be
	// shorter than Timeout (the script needs its share). Default 50ms.
	WaitTimeout time.Duration `mapstructure:"wait_timeout"`
	// TLS encrypts the connections to Redis, as managed Redis services
	// require. Default: off.
	TLS RedisTLS `mapstructure:"tls"`
}

// RedisTLS configures TLS to Redis.
type RedisTLS struct {
	// Enabled turns TLS on. Default false.
	Enabled bool `mapstructure:"enabled"`
	// CAFile is a PEM bundle of the CAs that sign the server's
	// certificate. Default "": the system's roots.
	CAFile string `mapstructure:"ca_file"`
	// CertFile and KeyFile are a client certificate, for servers that
	// require one (tls-auth-clients). Default "" (none).
	CertFile string `mapstructure:"cert_file"`
	KeyFile  string `mapstructure:"key_file"`
	// ServerName is the name checked in the server's certificate.
	// Default "": the host of each address.
	ServerName string `mapstructure:"server_name"`
}

// MaxWaitReplicas bounds redis.wait_replicas.
const MaxWaitReplicas = 64

// validateRedis checks the redis section but its tls block, which
// Validate checks with the other TLS settings.
func (c *Config) validateRedis(errs *Errors) {
	r := c.Redis
	for i, a := range r.Addrs {
		checkAddr(errs, Index("redis.addrs", i), a, seedAddr)
	}
	positive(errs, "redis.timeout", r.Timeout)
	positive(errs, "redis.dial_timeout", r.DialTimeout)
	if r.BreakerFailures < -1 || r.BreakerFailures == 0 {
		errs.Addf("redis.breaker_failures", "must be >= 1, or -1 to disable; got %d", r.BreakerFailures)
	}
	positive(errs, "redis.breaker_open", r.BreakerOpen)
	if r.BreakerProbes < 1 || r.BreakerProbes > 1000 {
		errs.Addf("redis.breaker_probes", "must be in 1..1000, got %d", r.BreakerProbes)
	}
	if r.WaitReplicas < 0 || r.WaitReplicas > MaxWaitReplicas {
		errs.Addf("redis.wait_replicas", "must be in 0..%d, got %d", MaxWaitReplicas, r.WaitReplicas)
	}
	if r.WaitReplicas > 0 && c.Stock.Store != "redis" {
		errs.Addf("redis.wait_replicas", "needs stock.store: redis (the stock decisions it waits for are Redis writes), got stock.store %q", c.Stock.Store)
	}
	if r.WaitReplicas > 0 {
		switch w := r.WaitTimeout; {
		case w < time.Millisecond || w%time.Millisecond != 0:
			errs.Addf("redis.wait_timeout", "must be whole milliseconds, at least 1ms, got %s", w)
		case r.Timeout > 0 && w >= r.Timeout:
			errs.Addf("redis.wait_timeout", "must be shorter than redis.timeout %s, got %s", r.Timeout, w)
		}
	}
}
