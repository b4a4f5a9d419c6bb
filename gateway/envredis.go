package gateway

import "github.com/flashgate/flashgate/conf"

// RedisPrefix is the prefix of every Redis key a filter writes:
// redis.prefix, or its default (conf.DefaultRedisPrefix) for an Env
// built by hand without a config (NewEnv), so that no filter writes its
// own fallback.
func (e *Env) RedisPrefix() string {
	if e.Config == nil {
		return conf.DefaultRedisPrefix
	}
	return e.Config.Redis.Prefix
}
