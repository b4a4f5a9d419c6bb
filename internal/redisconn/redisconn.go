// Package redisconn opens the one rueidis client a flashgate process
// shares, from the redis section of the config.
package redisconn

import (
	"fmt"
	"time"

	"github.com/redis/rueidis"

	"github.com/flashgate/flashgate/conf"
)

// Open connects to the configured Redis (standalone or cluster, detected
// by rueidis). It returns nil, nil when no addresses are configured.
func Open(c conf.Redis) (rueidis.Client, error) {
	if len(c.Addrs) == 0 {
		return nil, nil
	}
	tc, err := tlsConfig(c.TLS)
	if err != nil {
		return nil, err
	}
	cl, err := rueidis.NewClient(rueidis.ClientOption{
		InitAddress: c.Addrs,
		// TLSConfig nil is plain TCP; crypto/tls checks each address's
		// host name when ServerName is empty.
		TLSConfig: tc,
		Username:  c.Username,
		Password:  c.Password,
		// Client-side caching is not used on the request path; turning it
		// off keeps RESP2 servers and proxies working too.
		DisableCache:      true,
		ConnWriteTimeout:  c.Timeout + time.Second,
		Dialer:            dialer(c.DialTimeout),
		BlockingPoolSize:  4,
		PipelineMultiplex: 2,
	})
	if err != nil {
		return nil, fmt.Errorf("redis %v: %w", c.Addrs, err)
	}
	return cl, nil
}
