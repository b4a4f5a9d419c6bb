package forward

import (
	"errors"
	"time"
)

// What one send's result means, for both queues (Queue, queue.go, and
// the Redis Forwarder, streamdeliver.go): one rule, in one place, so the
// memory store and the fleet treat a backend alike (README, "Async mode",
// the outcome table).

// verdict is what a queue does with an order after a send.
type verdict uint8

const (
	vDeliver    verdict = iota + 1 // the backend has the order (2xx, 409): finish it
	vRetry                         // send again after outcome.wait
	vDeadLetter                    // give the unit back, outcome.reason says why
)

// outcome is classify's answer.
type outcome struct {
	verdict verdict
	reason  string        // vDeadLetter only
	wait    time.Duration // vRetry only: before the next send
	// counted: the send used an attempt, since the backend may have seen
	// it (it answered, or no answer came after sending). A send that never
	// left the gateway (breaker open, connection refused) or that the
	// backend answered "not now" (429, 503 with Retry-After) does not.
	counted bool
	// maybeSeen: no answer after sending; the retry may be a duplicate
	// (the Forwarder counts it as retry_after_timeout).
	maybeSeen bool
}

// policy is the retry settings both queues share (queue.* in the YAML).
type policy struct {
	attempts                     int
	backoff, backoffMax, maxWait time.Duration
}

// try is what a queue knows of the order when a send's result comes.
type try struct {
	attempts int           // sends counted before this one
	failures int           // failed sends before this one, counted or not: the backoff's exponent
	age      time.Duration // since the order's admission, now
}

// classify decides after one send:
//
//   - 2xx, 409 (the backend already has the key): deliver.
//   - 429, or 503 with Retry-After: backpressure. Retry, no attempt used,
//     after max(backoff, Retry-After capped at backoff_max).
//   - other 3xx/4xx: dead-letter, backend_rejected.
//   - other 5xx, or no answer after sending (timeout, broken connection):
//     an attempt used; retry after the backoff, attempts_exhausted once
//     all are used.
//   - not sent (ErrNotSent: the breaker refused; ErrUnreachable: the
//     connection failed, nothing left the gateway): retry after the
//     backoff, no attempt used, so a backend that is down makes orders
//     wait, not die.
//
// Every retry is bounded by maxWait: one whose next send would start more
// than maxWait after the order's admission is dead-lettered expired
// instead. r in [0,1) is the backoff's jitter.
func (p policy) classify(rep Reply, err error, t try, r float64) outcome {
	backoff := Backoff(p.backoff, p.backoffMax, t.failures+1, r)
	var o outcome
	switch {
	case err == nil && (rep.Status < 300 || rep.Status == 409):
		return outcome{verdict: vDeliver, counted: true}
	case err == nil && (rep.Status == 429 || rep.Status == 503 && rep.RetryAfter > 0):
		o = outcome{verdict: vRetry, wait: max(backoff, min(rep.RetryAfter, p.backoffMax))}
	case err == nil && rep.Status < 500:
		return outcome{verdict: vDeadLetter, reason: ReasonRejected, counted: true}
	case err == nil:
		o = outcome{verdict: vRetry, wait: backoff, counted: true}
	case errors.Is(err, ErrNotSent), errors.Is(err, ErrUnreachable):
		o = outcome{verdict: vRetry, wait: backoff}
	default:
		o = outcome{verdict: vRetry, wait: backoff, counted: true, maybeSeen: true}
	}
	switch {
	case o.counted && t.attempts+1 >= p.attempts:
		return outcome{verdict: vDeadLetter, reason: ReasonExhausted, counted: true, maybeSeen: o.maybeSeen}
	case t.age+o.wait > p.maxWait:
		return outcome{verdict: vDeadLetter, reason: ReasonExpired, counted: o.counted, maybeSeen: o.maybeSeen}
	}
	return o
}

// newPolicy applies the defaults to zero settings.
func newPolicy(attempts int, backoff, backoffMax, maxWait time.Duration) policy {
	p := policy{attempts: attempts, backoff: backoff, backoffMax: backoffMax, maxWait: maxWait}
	if p.attempts <= 0 {
		p.attempts = 6
	}
	if p.backoff <= 0 {
		p.backoff = 200 * time.Millisecond
	}
	if p.backoffMax <= 0 {
		p.backoffMax = 10 * time.Second
	}
	if p.backoffMax < p.backoff {
		p.backoffMax = p.backoff
	}
	if p.maxWait <= 0 {
		p.maxWait = 10 * time.Minute
	}
	return p
}
