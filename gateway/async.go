package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/valyala/fasthttp"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/forward"
	"github.com/flashgate/flashgate/internal/orderkey"
	"github.com/flashgate/flashgate/stock"
)

// AsyncQueues holds the queues of the async proxy routes for the life of
// the server, not of one config: a reload must neither drop the orders a
// queue holds (each has a unit and a 202 behind it) nor forget the
// statuses clients are polling. One queue per route name; a reload that
// changes a running queue's settings is refused (a restart applies it),
// and a reload points the queue at the new config's upstream.
type AsyncQueues struct {
	units   *Units
	durable durableStore // the store, when it queues in Redis Streams; nil for memory
	log     *slog.Logger

	mu      sync.Mutex
	m       map[string]*asyncQueue
	streams map[string]*streamQueue // by route, Redis store (asyncredis.go)
	owner   map[string]string       // activity -> the route that sells it async on Redis
	ctx     context.Context
	cancel  context.CancelFunc
	// streamCtx runs the Redis forwarders: StopStreams ends it when a
	// shutdown begins, so their sends under way finish and what they hold
	// is handed back while the listeners drain.
	streamCtx   context.Context
	stopStreams context.CancelFunc
	wg          sync.WaitGroup
}

type asyncQueue struct {
	q   *forward.Queue
	cfg conf.Queue
	up  atomic.Pointer[Upstream]
}

// Send delivers through the upstream of the config now serving.
func (aq *asyncQueue) Send(ctx context.Context, o *forward.Order) (forward.Reply, error) {
	return aq.up.Load().Send(ctx, o)
}

// NewAsyncQueues returns an empty set whose dead-lettered orders give
// their units back through units.
func NewAsyncQueues(units *Units, log *slog.Logger) *AsyncQueues {
	ctx, cancel := context.WithCancel(context.Background())
	a := &AsyncQueues{units: units, log: log, m: map[string]*asyncQueue{}, ctx: ctx, cancel: cancel,
		streams: map[string]*streamQueue{}, owner: map[string]string{}}
	a.streamCtx, a.stopStreams = context.WithCancel(ctx)
	if units != nil {
		a.durable, _ = units.Store().(durableStore)
	}
	return a
}

// queue returns route's queue, starting it on first use. A queue that
// already runs keeps its upstream until activate is called, so that a
// reload that fails later changes nothing.
func (a *AsyncQueues) queue(route string, c conf.Queue, u *Upstream) (q *asyncQueue, activate func(), err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if q := a.m[route]; q != nil {
		if q.cfg != c {
			return nil, nil, errors.New("queue: a running async queue's settings change only with a restart (its queued orders live in this process)")
		}
		return q, func() { q.up.Store(u) }, nil
	}
	q = &asyncQueue{cfg: c}
	q.up.Store(u)
	fc := forward.Config{
		Rate: c.Rate, MaxInflight: c.MaxInflight, Attempts: c.Attempts,
		Backoff: c.Backoff, BackoffMax: c.BackoffMax, MaxWait: c.MaxWait, Capacity: c.Capacity,
		SendTimeout: u.timeout,
	}
	fc.DeadLetter = func(o *forward.Order, reason string) {
		if reason == forward.ReasonUnconfirmed {
			a.log.Warn("async order unconfirmed: no answer to its sends, so the backend may hold it; its unit stays sold. Check the backend: if it has no such order, release the unit (POST /admin/activities/{id}/release) and refund any payment",
				"route", route, "key", o.Ticket, "reason", reason)
			return
		}
		a.log.Warn("async order dead-lettered: its unit was given back; refund any payment taken for it",
			"route", route, "key", o.Ticket, "reason", reason)
	}
	if hc := a.held(); hc != nil {
		fc.Check = func(o *forward.Order) stock.OrderCheck { return hc.CheckOrder(o.Activity, o.User, o.Seq) }
	}
	fq, err := forward.New(fc, q, a.release)
	if err != nil {
		return nil, nil, fmt.Errorf("queue: %w", err)
	}
	q.q = fq
	a.m[route] = q
	a.wg.Add(1)
	go func() { defer a.wg.Done(); fq.Run(a.ctx) }()
	return q, func() {}, nil
}

// rebind points every running queue at the upstream of ups with the name
// of the one it uses now. A queue whose upstream is gone keeps the old
// one, and says so: its orders are still owed a delivery.
func (a *AsyncQueues) rebind(ups map[string]*Upstream) {
	a.mu.Lock()
	defer a.mu.Unlock()
	move := func(route string, p *atomic.Pointer[Upstream]) {
		old := p.Load() // never nil: a queue is made with its upstream
		if u := ups[old.name]; u != nil {
			p.Store(u)
		} else {
			a.log.Warn("async queue: its upstream is no longer configured; it keeps delivering through the old one", "route", route, "upstream", old.name)
		}
	}
	for route, q := range a.m {
		move(route, &q.up)
	}
	for route, sq := range a.streams {
		move(route, &sq.up)
	}
}

// release gives a dead-lettered order's unit back.
func (a *AsyncQueues) release(ctx context.Context, o *forward.Order) error {
	_, err := a.units.Release(ctx, o.Activity, []byte(o.User), o.Seq, "dead_letter")
	return err
}

// Lookup answers an order_status poll for ticket, for its own user only:
// from Redis on the Redis store (any instance answers), else from the
// in-process queues. An error means Redis could not answer.
func (a *AsyncQueues) Lookup(ticket, user string) (forward.Status, bool, error) {
	if a.durable != nil {
		return a.durableStatus(ticket, user)
	}
	st, ok := a.Status(ticket, user)
	return st, ok, nil
}

// held is the store's held-mark check for the in-process queues (the
// memory store), or nil.
func (a *AsyncQueues) held() stock.HeldChecker {
	if a.units == nil {
		return nil
	}
	hc, _ := a.units.Store().(stock.HeldChecker)
	return hc
}

// Status finds ticket in any in-process queue, for its own user only. A
// queued order whose unit was given back meanwhile (an admin release, its
// pay_within deadline) answers failed at once, as the queue will when it
// reaches the order and drops it; so does an unconfirmed dead letter
// whose unit was released after it.
func (a *AsyncQueues) Status(ticket, user string) (forward.Status, bool) {
	for _, q := range a.inProcess() {
		st, ok := q.q.Status(ticket, user)
		if !ok {
			continue
		}
		if hc := a.held(); (st.State == forward.Queued || unconfirmed(st)) && hc != nil {
			if act, owner, seq, ok := orderkey.Parse(ticket); ok && owner == user {
				was := unconfirmed(st)
				if st = givenBack(st, hc.CheckOrder(act, user, seq)); was && !unconfirmed(st) {
					q.q.Resolve(ticket, st.Reason) // kept through a later forced warm
				}
			}
		}
		return st, true
	}
	return forward.Status{}, false
}

// inProcess is a copy of the in-process queues, to use without the lock.
func (a *AsyncQueues) inProcess() []*asyncQueue {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Collect(maps.Values(a.m))
}

// Resolve tells the in-process queues that ticket's unit was given back
// (an admin release): an unconfirmed dead letter's poll then says so,
// also after a later forced warm.
func (a *AsyncQueues) Resolve(ticket, reason string) {
	for _, q := range a.inProcess() {
		q.q.Resolve(ticket, reason)
	}
}

// Stats is each route's queue's counters, depth and head wait, by route
// name, for the metrics collector.
func (a *AsyncQueues) Stats() map[string]forward.Stats {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make(map[string]forward.Stats, len(a.m))
	for route, q := range a.m {
		out[route] = q.q.Stats()
	}
	return out
}

// StopStreams stops the Redis forwarders (the durable queue): they take
// no new order, finish their sends under way and hand back the orders
// they hold, for the fleet's other instances to take over at once. Close
// waits for them.
func (a *AsyncQueues) StopStreams() { a.stopStreams() }

// Close stops every queue: the memory store's orders not yet delivered
// are lost with the process, like its units (README, async mode); the
// Redis forwarders stop as StopStreams says.
func (a *AsyncQueues) Close() error {
	a.mu.Lock()
	for _, q := range a.m {
		q.q.Close()
	}
	a.mu.Unlock()
	a.cancel()
	a.wg.Wait()
	return nil
}

// asyncAction queues an admitted order and answers 202 with its ticket.
// The order is the request as Forward would send it (path rewritten,
// forwarding and identity headers set, X-Request-Id fixed now so every
// redelivery carries the same one), copied out of fasthttp's buffers.
func (in *Instance) asyncAction(u *Upstream, aq *asyncQueue, rewrite []byte) func(r *Request, _ string) {
	return func(r *Request, _ string) {
		if !r.Ticket.Held || r.Activity == nil {
			// Cannot happen behind the stock filter, which the build
			// requires and which never admits without a unit; should a
			// chain ever do so, there is no ticket to queue, and the
			// request goes through at once rather than being dropped.
			u.Forward(r, rewrite)
			return
		}
		req := fasthttp.AcquireRequest()
		r.Ctx.Request.CopyTo(req)
		if len(rewrite) > 0 {
			req.URI().SetPathBytes(rewrite)
		}
		u.prepare(r, req)
		r.Ctx.Response.Header.SetBytesKV(hdrRequestID, req.Header.PeekBytes(hdrRequestID)) // as the sync answer's
		o := forward.Order{
			Ticket:   string(req.Header.PeekBytes(hdrIdempotencyKey)),
			Activity: r.Activity.ID, User: string(r.User), Seq: r.Ticket.Seq,
			Method: string(req.Header.Method()), Path: string(req.URI().RequestURI()),
			Body: append([]byte(nil), req.Body()...),
		}
		for k, v := range req.Header.All() {
			o.Header = append(o.Header, [2]string{string(k), string(v)})
		}
		fasthttp.ReleaseRequest(req)
		if err := aq.q.Enqueue(o); err != nil {
			in.units.GiveBack(r, "queue_full")
			in.busy.Write(r.Ctx)
			return
		}
		r.Ticket.Held = false // the queue owns the unit now
		writeQueued(r.Ctx, []byte(o.Ticket), in.poll)
	}
}
