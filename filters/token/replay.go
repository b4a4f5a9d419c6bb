package token

import (
	"context"
	"time"

	"github.com/redis/rueidis"

	"github.com/flashgate/flashgate/filters/internal/keyring"
	"github.com/flashgate/flashgate/gateway"
	"github.com/flashgate/flashgate/internal/breaker"
)

// replay remembers used nonces in Redis, for single_use. A token's nonce
// is random, so one SET NX per purchase is the whole cost; the key expires
// with the token, so Redis holds at most max_age worth of purchases.
type replay struct {
	client  rueidis.Client
	prefix  string
	ttl     time.Duration
	timeout time.Duration
	// breaker is the Redis breaker: while it is open a claim fails at once
	// (the entry's on_error applies) without a Redis call.
	breaker *breaker.Breaker
	undoing chan struct{} // giveBack's slots
}

// key is <prefix>tok:{nonce}; the braces make the nonce the cluster hash
// tag, which spreads tokens over slots.
func (rp *replay) key(nonce []byte) string {
	b := make([]byte, 0, len(rp.prefix)+6+(nonceLen*4+2)/3)
	b = append(b, rp.prefix...)
	b = append(b, "tok:{"...)
	b = keyring.AppendEncode(b, nonce)
	b = append(b, '}')
	return string(b)
}

// claim marks nonce used. It returns replayed when it already was, and
// gateway.ErrUnavailable when Redis did not answer within the timeout.
func (rp *replay) claim(nonce []byte) (outcome, error) {
	t, allowed := rp.breaker.Allow()
	if !allowed {
		return ok, gateway.ErrUnavailable
	}
	ctx, cancel := context.WithTimeout(context.Background(), rp.timeout)
	defer cancel()
	cmd := rp.client.B().Set().Key(rp.key(nonce)).Value("1").Nx().PxMilliseconds(rp.ttl.Milliseconds()).Build()
	err := rp.client.Do(ctx, cmd).Error()
	rp.breaker.Done(t, gateway.RedisOutcome(err)) // a nil reply (replayed) is an answer
	switch {
	case rueidis.IsRedisNil(err):
		return replayed, nil
	case err != nil:
		return ok, gateway.ErrUnavailable
	}
	return ok, nil
}

// undoSlots bounds the give-backs in flight: a refusal storm with Redis
// slow sheds give-backs (the token then stays spent, as before) instead
// of piling up goroutines.
const undoSlots = 64

// giveBack forgets nonce in the background, so that the token passes
// again: its request was refused with "try again" by a later filter.
// Best effort, bounded by the timeout and undoSlots, skipped while the
// Redis breaker is open.
func (rp *replay) giveBack(nonce []byte) {
	if rp.breaker.State() != breaker.Closed {
		return
	}
	select {
	case rp.undoing <- struct{}{}:
	default:
		return
	}
	key := rp.key(nonce)
	go func() {
		defer func() { <-rp.undoing }()
		ctx, cancel := context.WithTimeout(context.Background(), rp.timeout)
		defer cancel()
		_ = rp.client.Do(ctx, rp.client.B().Del().Key(key).Build()).Error()
	}()
}
