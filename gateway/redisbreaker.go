package gateway

import (
	"context"
	"errors"
	"time"

	"github.com/redis/rueidis"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/internal/breaker"
)

// NewRedisBreaker is the breaker of the request path's Redis, or nil when
// redis.breaker_failures is -1 (or unset). now is read at the moment of
// each decision; nil means time.Now.
//
// It sits in front of each request-path Redis user (the stock filter),
// not inside the rueidis client: a refused call must never reach the
// stock store, which would otherwise spawn its settling goroutine and
// queue an abandon entry for a Take that never ran. The background loops
// (stock sync and settling, list refreshes) do not go through it: they
// retry on their own schedule and must settle what was left unknown.
func NewRedisBreaker(c conf.Redis, now func() time.Time) *breaker.Breaker {
	if c.BreakerFailures <= 0 {
		return nil
	}
	return loggedBreaker("redis", c.BreakerFailures, c.BreakerOpen, c.BreakerProbes, now)
}

// RedisOutcome classifies a request-path Redis call for the breaker: an
// error Redis itself answered (a script error, NOSCRIPT) proves it alive;
// a caller that went away (context.Canceled) says nothing; anything else
// (no answer within the timeout, a broken or refused connection) is a
// failure.
func RedisOutcome(err error) breaker.Outcome {
	switch {
	case err == nil:
		return breaker.Success
	case errors.Is(err, context.Canceled):
		return breaker.Ignore
	}
	if _, ok := errors.AsType[*rueidis.RedisError](err); ok {
		return breaker.Success
	}
	return breaker.Failure
}
