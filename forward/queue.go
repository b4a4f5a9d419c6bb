// Package forward delivers orders admitted in async mode to the shop's
// backend at the backend's pace (peak shaving): a bounded queue drained
// at a fixed rate with at most MaxInflight deliveries at a time, retrying
// failures with backoff and jitter, giving an order's stock unit back
// exactly once when the order is dead-lettered, and dropping, unsent, an
// order whose unit was given back while it waited (the held-mark check).
//
// Queue is the in-process queue that serves the memory stock store (one
// gateway, `make run`). It lives in memory: queued orders and their
// statuses do not survive a restart (nor do the memory store's units).
// The fleet's durable queue is the Redis store's per-shard Streams, read
// by a Forwarder in every instance (stream.go).
package forward

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"
)

// Stats counts what the queue did, and what it holds now.
type Stats struct {
	Enqueued, Delivered, Retried, DeadLettered, ReleaseFailed, Full uint64
	// Dead is DeadLettered by reason.
	Dead DeadCounts
	// Dropped counts orders the held-mark check (Config.Check) dropped:
	// their unit was given back before they were sent (again).
	Dropped uint64
	// Depth is the number of orders not finished (queued, waiting for a
	// retry or being sent): what Capacity bounds.
	Depth int
	// HeadWait is how long the oldest unfinished order (queued, being
	// sent or waiting for a retry) has waited since it was queued (0 when
	// none is): the delivery lag, as the Redis store's oldest Stream entry.
	HeadWait time.Duration
}

// ErrFull is Enqueue's answer when Capacity orders are unfinished: the
// caller gives the unit back and answers busy.
var ErrFull = errors.New("forward: queue full")

// ErrNotSent, wrapped in a Sender's error, says the order was not sent at
// all (the upstream's breaker refused it): the queue waits and tries again
// without counting an attempt.
var ErrNotSent = errors.New("forward: not sent")

// ErrUnreachable, wrapped in a Sender's error, says the order never left
// the gateway (connection refused, cannot dial): no attempt used, since
// the backend cannot have seen it; the order waits, bounded by MaxWait.
var ErrUnreachable = errors.New("forward: backend unreachable")

// ErrClosed is Enqueue's answer after Close.
var ErrClosed = errors.New("forward: queue closed")

type item struct {
	o        Order
	st       Status
	released bool
	queuedAt time.Time
	failures int // failed sends so far, counted or not (classify's try)
	// unanswered: some send got no answer (classify's maybeSeen), so the
	// backend may hold the order: a dead letter keeps its unit
	// (Unconfirmed).
	unanswered bool
}

// Queue is the in-process queue. Create it with New, start it with Run.
type Queue struct {
	cfg     Config
	pol     policy
	send    Sender
	release Releaser

	mu       sync.Mutex
	ready    []*item          // FIFO of orders to send now
	line     []*item          // every unfinished order, oldest first (finished ones leave from the front lazily): HeadWait
	byTicket map[string]*item // every order not yet evicted
	done     []string         // finished tickets, oldest first (eviction order)
	open     int              // orders not finished
	closed   bool
	stats    Stats
	wake     chan struct{} // one-slot: "ready has grown"
}

// New returns a queue that sends through send and gives units back
// through release.
func New(cfg Config, send Sender, release Releaser) (*Queue, error) {
	if !(cfg.Rate > 0) {
		return nil, errors.New("forward: rate must be > 0")
	}
	if cfg.MaxInflight <= 0 {
		cfg.MaxInflight = 32
	}
	if cfg.Capacity <= 0 {
		cfg.Capacity = 65536
	}
	if cfg.SendTimeout <= 0 {
		cfg.SendTimeout = 10 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Sleep == nil {
		cfg.Sleep = sleep
	}
	return &Queue{cfg: cfg, send: send, release: release,
		pol:      newPolicy(cfg.Attempts, cfg.Backoff, cfg.BackoffMax, cfg.MaxWait),
		byTicket: make(map[string]*item), wake: make(chan struct{}, 1)}, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Enqueue queues o. A ticket already queued is refused as a duplicate
// would be: the caller holds one unit per ticket.
func (q *Queue) Enqueue(o Order) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	switch {
	case q.closed:
		return ErrClosed
	case q.open >= q.cfg.Capacity:
		q.stats.Full++
		return ErrFull
	}
	if _, dup := q.byTicket[o.Ticket]; dup {
		return errors.New("forward: ticket already queued")
	}
	it := &item{o: o, st: Status{State: Queued}, queuedAt: q.cfg.Now()}
	q.byTicket[o.Ticket] = it
	q.open++
	q.stats.Enqueued++
	q.ready = append(q.ready, it)
	q.line = append(q.line, it)
	q.signal()
	return nil
}

// Status answers a poll: ok is false for an unknown ticket and for a
// ticket of another user, so a poller cannot tell the two apart.
func (q *Queue) Status(ticket, user string) (Status, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	it, ok := q.byTicket[ticket]
	if !ok || it.o.User != user {
		return Status{}, false
	}
	return it.st, true
}

// Resolve records that the unconfirmed dead letter ticket was given
// back (reason: released or unpaid), so that its poll keeps saying so
// after a forced warm, which would otherwise leave only "unconfirmed" to
// answer. Anything else is left as it is.
func (q *Queue) Resolve(ticket, reason string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if it, ok := q.byTicket[ticket]; ok && it.st.State == Failed && it.st.Reason == ReasonUnconfirmed {
		it.st = Status{State: Failed, Reason: reason, Attempts: it.st.Attempts}
	}
}

// Stats returns the counters so far, the depth and the head's wait.
func (q *Queue) Stats() Stats {
	q.mu.Lock()
	defer q.mu.Unlock()
	s := q.stats
	s.Depth = q.open
	for len(q.line) > 0 && q.line[0].st.State != Queued {
		q.line[0] = nil
		q.line = q.line[1:]
	}
	if len(q.line) > 0 {
		s.HeadWait = max(q.cfg.Now().Sub(q.line[0].queuedAt), 0)
	}
	return s
}

// Close refuses new orders. Run returns once ctx is done; orders still
// queued then are lost with the process (see the package doc).
func (q *Queue) Close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
}

func (q *Queue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx is done, then waits for the sends under way.
// One dispatcher paces the sends (one every 1/Rate), so the rate holds
// whatever the backend's latency; a semaphore bounds those in flight.
func (q *Queue) Run(ctx context.Context) {
	interval := time.Duration(float64(time.Second) / q.cfg.Rate)
	sem := make(chan struct{}, q.cfg.MaxInflight)
	var wg sync.WaitGroup
	defer wg.Wait()
	var next time.Time
	for {
		it := q.pop()
		if it == nil {
			select {
			case <-q.wake:
				continue
			case <-ctx.Done():
				return
			}
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			q.push(it)
			return
		}
		now := q.cfg.Now()
		if next.After(now) {
			if q.cfg.Sleep(ctx, next.Sub(now)) != nil {
				<-sem
				q.push(it)
				return
			}
			now = q.cfg.Now()
		}
		next = now.Add(interval)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			q.deliver(ctx, it)
		}()
	}
}

func (q *Queue) pop() *item {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.ready) == 0 {
		return nil
	}
	it := q.ready[0]
	q.ready[0] = nil
	q.ready = q.ready[1:]
	return it
}

func (q *Queue) push(it *item) {
	q.mu.Lock()
	q.ready = append(q.ready, it)
	q.mu.Unlock()
	q.signal()
}

// deliver drops it if its unit was given back (Config.Check, before each
// send, retries included), else sends it once and settles the outcome
// (classify): ack, retry later, or dead-letter with the unit given back.
func (q *Queue) deliver(ctx context.Context, it *item) {
	if q.cfg.Check != nil {
		if reason, drop := DropReason(q.cfg.Check(&it.o)); drop {
			q.finish(it, Failed, reason) // its unit is back already: nothing to give back
			return
		}
	}
	sctx, cancel := context.WithTimeout(ctx, q.cfg.SendTimeout)
	rep, err := q.send.Send(sctx, &it.o)
	cancel()

	q.mu.Lock()
	out := q.pol.classify(rep, err, try{it.st.Attempts, it.failures, q.cfg.Now().Sub(it.queuedAt)}, rand.Float64())
	it.failures++
	if out.counted {
		it.st.Attempts++
	}
	it.unanswered = it.unanswered || out.maybeSeen
	if err == nil {
		it.st.Code, it.st.Body = rep.Status, rep.Body
	}
	if out.verdict == vRetry {
		q.stats.Retried++
	}
	q.mu.Unlock()

	switch out.verdict {
	case vDeliver:
		q.finish(it, Delivered, "")
		return
	case vDeadLetter:
		q.deadLetter(ctx, it, Unconfirmed(out.reason, it.unanswered))
		return
	}
	// Shutting down or not, it goes back in line: Run is returning when
	// the sleep fails. The held-mark check runs again before the retry
	// (above).
	_ = q.cfg.Sleep(ctx, out.wait)
	q.push(it)
}

func (q *Queue) deadLetter(ctx context.Context, it *item, reason string) {
	if !it.released { // only this goroutine owns it now; the flag keeps it once
		it.released = true
		// An unconfirmed order may be at the backend: its unit stays sold.
		if reason != ReasonUnconfirmed {
			if err := q.release(ctx, &it.o); err != nil {
				q.mu.Lock()
				q.stats.ReleaseFailed++
				q.mu.Unlock()
			}
		}
		if q.cfg.DeadLetter != nil {
			q.cfg.DeadLetter(&it.o, reason)
		}
	}
	q.finish(it, Failed, reason)
}

func (q *Queue) finish(it *item, s State, reason string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	it.st.State, it.st.Reason = s, reason
	switch {
	case s == Delivered:
		q.stats.Delivered++
	case isDropReason(reason): // the held-mark check's
		q.stats.Dropped++
	default:
		q.stats.DeadLettered++
		q.stats.Dead[deadIndex(reason)]++
	}
	q.open--
	q.done = append(q.done, it.o.Ticket)
	if len(q.done) > q.cfg.Capacity { // keep at most Capacity finished statuses
		delete(q.byTicket, q.done[0])
		q.done[0] = ""
		q.done = q.done[1:]
	}
}

// Backoff is the wait after the given failed attempt (1-based): base
// doubled per attempt, capped at max, then "equal jitter": half of it
// fixed and half spread by r in [0,1), so retries of orders that failed
// together do not come back together.
func Backoff(base, max time.Duration, attempt int, r float64) time.Duration {
	d := base
	for i := 1; i < attempt && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	return d/2 + time.Duration(r*float64(d/2))
}
