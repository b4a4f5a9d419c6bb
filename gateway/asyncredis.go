package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/forward"
	"github.com/flashgate/flashgate/internal/orderkey"
	"github.com/flashgate/flashgate/internal/redisgcra"
	"github.com/flashgate/flashgate/stock"
)

// Async mode on the Redis store: the stock filter hands the order to
// TakeOrder, whose script appends it to the shard's Stream with the
// decision; a forward.Forwarder per async route in every instance drains
// the Streams (README, "Async mode on Redis").

// durableStore is the Redis store's side of async mode.
type durableStore interface {
	stock.OrderTaker
	forward.StreamLog
	OrderStatus(ctx context.Context, activity, user string, seq int64) ([]byte, stock.OrderState, error)
	HeldNow(ctx context.Context, activity, user string, seq int64) (stock.OrderCheck, error)
	QueueDepth(ctx context.Context, activity string) (int64, time.Time, error)
}

// streamQueue is one route's forwarder, kept across reloads like the
// in-process queues.
type streamQueue struct {
	fw         *forward.Forwarder
	cfg        conf.Queue
	activities []string
	up         atomic.Pointer[Upstream]
}

func (sq *streamQueue) Send(ctx context.Context, o *forward.Order) (forward.Reply, error) {
	return sq.up.Load().Send(ctx, o)
}

// consumerName is this process's consumer in every group: unique per
// process start, so a restarted gateway never inherits a dead one's
// pending entries by name (XAUTOCLAIM hands them over instead).
var consumerName = func() string {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return host + "-" + strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(b[:])
}()

// oneAsyncRoute refuses a second async route for an activity on the
// Redis store, where each route's consumer group reads every order of its
// activities (two would deliver each order twice). It checks the config
// alone, so that `flashgate check`, which builds on a memory store, says
// what serve would; stream checks the running queues across reloads.
func oneAsyncRoute(by map[string]string, path string, rc conf.Route, acts []*Activity, store string) error {
	if store != "redis" || rc.Action.Type != "proxy" || rc.Action.Mode != "async" {
		return nil
	}
	for _, a := range acts {
		if other, ok := by[a.ID]; ok {
			return conf.AtPath(conf.Join(path, "action.mode"), fmt.Errorf("activity %s is already sold async by route %q: one async route per activity on the Redis store", a.ID, other))
		}
		by[a.ID] = rc.Name
	}
	return nil
}

// stream returns route's forwarder, starting it on first use: the same
// rules as queue (settings change only with a restart; activate points it
// at the new config's upstream). An activity can be sold async by one
// route only: each route's group reads every order of its activities.
func (a *AsyncQueues) stream(route string, c conf.Queue, u *Upstream, env *Env) (activate func(), err error) {
	ds := a.durable
	acts := make([]string, 0, len(env.Activities))
	for _, act := range env.Activities {
		acts = append(acts, act.ID)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if sq := a.streams[route]; sq != nil {
		if sq.cfg != c || strings.Join(sq.activities, ",") != strings.Join(acts, ",") {
			return nil, errors.New("queue: a running async queue's settings and activities change only with a restart")
		}
		return func() { sq.up.Store(u) }, nil
	}
	for _, id := range acts {
		if other, ok := a.owner[id]; ok && other != route {
			return nil, fmt.Errorf("queue: activity %s is already sold async by route %q: one async route per activity on the Redis store", id, other)
		}
	}
	client := env.BackgroundRedis()
	if client == nil {
		return nil, errors.New("queue: async on the Redis store needs redis.addrs")
	}
	sq := &streamQueue{cfg: c, activities: acts}
	sq.up.Store(u)
	// A slot may be reserved max_inflight slots ahead: as many as this
	// instance's deliveries can wait for one at once.
	pace := redisgcra.NewReserver(client, env.Config.Redis.Prefix+"q:{"+route+"}", c.Rate, c.MaxInflight, env.Config.Redis.Timeout)
	fw, err := forward.NewForwarder(forward.StreamConfig{
		Activities: acts, Group: "flashgate:" + route, Consumer: consumerName,
		MaxInflight: c.MaxInflight, Attempts: c.Attempts, Backoff: c.Backoff, BackoffMax: c.BackoffMax, MaxWait: c.MaxWait,
		SendTimeout: u.timeout, ClaimIdle: c.ClaimIdle,
	}, streamLog{ds, a.units}, sq, pace)
	if err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	sq.fw = fw
	a.streams[route] = sq
	for _, id := range acts {
		a.owner[id] = route
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		fw.Run(a.streamCtx)
		if n := fw.Stats().HandedBack; n > 0 {
			a.log.Info("async queue stopped: orders handed back to the other instances", "route", route, "orders", n)
		}
	}()
	return func() {}, nil
}

// streamLog is the store as a forwarder uses it, with dead letters
// released through Units, so they are counted like every give-back.
type streamLog struct {
	durableStore
	units *Units
}

func (l streamLog) Release(ctx context.Context, activity string, user []byte, seq int64) (bool, error) {
	return l.units.Release(ctx, activity, user, seq, "dead_letter")
}

// orderEncoder makes the order the stock filter queues: the request as
// Forward would send it (path rewritten, forwarding headers, X-Request-Id
// fixed now so every redelivery carries the same one), in forward's wire
// form. Idempotency and identity headers are set by Send.
func orderEncoder(u *Upstream, rewrite []byte) func(r *Request, dst []byte) ([]byte, error) {
	return func(r *Request, dst []byte) ([]byte, error) {
		req := fasthttp.AcquireRequest()
		defer fasthttp.ReleaseRequest(req)
		r.Ctx.Request.CopyTo(req)
		if len(rewrite) > 0 {
			req.URI().SetPathBytes(rewrite)
		}
		u.prepare(r, req)
		// The 202 carries the id every delivery of the order will carry,
		// as a sync answer carries the one the backend saw.
		r.Ctx.Response.Header.SetBytesKV(hdrRequestID, req.Header.PeekBytes(hdrRequestID))
		o := forward.Order{Method: string(req.Header.Method()), Path: string(req.URI().RequestURI()), Body: req.Body()}
		for k, v := range req.Header.All() {
			o.Header = append(o.Header, [2]string{string(k), string(v)})
		}
		return forward.AppendOrder(dst, &o)
	}
}

// AsyncOrder is the order to queue with this request's Take, for the
// stock filter: ok is false unless the route is async on the Redis store.
func (r *Request) AsyncOrder() (order []byte, ok bool, err error) {
	if r.Route == nil || r.Route.order == nil {
		return nil, false, nil
	}
	b, err := r.Route.order(r, nil)
	return b, true, err
}

// durableAction answers 202 for an order TakeOrder has queued: the unit
// and the order are Redis's now.
func durableAction(u *Upstream, poll pollLink) func(r *Request, _ string) {
	return func(r *Request, _ string) {
		if !r.Ticket.Held || r.Activity == nil {
			u.Forward(r, nil) // cannot happen behind the stock filter; never drop a unit
			return
		}
		r.Ticket.Held = false
		var buf [160]byte
		ticket := AppendIdempotencyKey(buf[:0], r.Activity.IDBytes, r.User, r.Ticket.Seq)
		writeQueued(r.Ctx, ticket, poll)
	}
}

// pollLink is where the 202 of a queued order says to poll: the path of
// the config's order_status route, cut around its {ticket}. A config
// without one sends no poll link (the build warns).
type pollLink struct {
	prefix, suffix string
	ok             bool
}

// pollLinkOf finds the first order_status route whose path names the
// ticket and nothing else.
func pollLinkOf(routes []conf.Route) pollLink {
	for _, rc := range routes {
		if rc.Action.Type != "json" || rc.Action.Endpoint != "order_status" {
			continue
		}
		pre, suf, found := strings.Cut(rc.Path, "{ticket}")
		if found && !strings.Contains(pre, "{") && !strings.Contains(suf, "{") {
			return pollLink{prefix: jsonInner(pre), suffix: jsonInner(suf), ok: true}
		}
	}
	return pollLink{}
}

// jsonInner is s escaped for the inside of a JSON string.
func jsonInner(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}

// writeQueued writes the 202 of a queued order.
func writeQueued(ctx *fasthttp.RequestCtx, ticket []byte, poll pollLink) {
	ctx.SetStatusCode(fasthttp.StatusAccepted)
	SetPrivateJSON(&ctx.Response.Header)
	b := make([]byte, 0, 64+2*len(ticket)+len(poll.prefix)+len(poll.suffix))
	b = append(b, `{"ticket":"`...)
	b = append(b, ticket...)
	b = append(b, `","status":"queued"`...)
	if poll.ok {
		b = append(b, `,"poll":"`...)
		b = append(b, poll.prefix...)
		b = append(b, ticket...)
		b = append(b, poll.suffix...)
		b = append(b, '"')
	}
	b = append(b, "}\n"...)
	ctx.Response.SetBodyRaw(b)
}

// durableStatus answers a poll from Redis, for ticket's own user only.
// An order given back before any forwarder finished it has no record
// yet; the ledger says so at once (failed, released or unpaid), before
// the forwarder that reaches the order drops it and writes the same.
func (a *AsyncQueues) durableStatus(ticket, user string) (forward.Status, bool, error) {
	activity, owner, seq, ok := orderkey.Parse(ticket)
	if !ok || owner != user {
		return forward.Status{}, false, nil
	}
	// Only an activity an async route sells has tickets: the ledger also
	// holds sync purchases, whose keys would otherwise poll "queued"
	// forever (the memory store's queue never saw them: 404 there too).
	a.mu.Lock()
	_, async := a.owner[activity]
	a.mu.Unlock()
	if !async {
		return forward.Status{}, false, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	rec, state, err := a.durable.OrderStatus(ctx, activity, user, seq)
	switch {
	case err != nil:
		return forward.Status{}, false, err
	case state == stock.OrderQueued:
		// The interim record of a retried order says its attempts and
		// last answer; anything but a queued one (or none) is a plain queued.
		if st, err := forward.ParseStatus(rec); err == nil && st.State == forward.Queued {
			return st, true, nil
		}
		return forward.Status{State: forward.Queued}, true, nil
	case state == stock.OrderReleased:
		return forward.Status{State: forward.Failed, Reason: forward.ReasonReleased}, true, nil
	case state == stock.OrderReleasedUnpaid:
		return forward.Status{State: forward.Failed, Reason: forward.ReasonUnpaid}, true, nil
	case state != stock.OrderRecorded:
		return forward.Status{}, false, nil
	}
	st, err := forward.ParseStatus(rec)
	if err != nil {
		return forward.Status{}, false, nil
	}
	if unconfirmed(st) {
		// Its unit stayed sold; once an admin release (or its pay_within
		// deadline) gives it back, the poll says so. If Redis cannot tell,
		// it stays unconfirmed: the answer that keeps a shopper from
		// buying twice.
		if c, err := a.durable.HeldNow(ctx, activity, user, seq); err == nil {
			st = givenBack(st, c)
		}
	}
	return st, true, nil
}

// unconfirmed reports whether st is a dead letter whose unit stayed sold.
func unconfirmed(st forward.Status) bool {
	return st.State == forward.Failed && st.Reason == forward.ReasonUnconfirmed
}

// givenBack is st answered failed with the drop reason (released, unpaid,
// reset) when check says the order's unit is no longer sold. A reset (a
// forced warm) does not turn an unconfirmed order into a failed one: it
// says nothing of whether the backend has the order, a release does.
func givenBack(st forward.Status, check stock.OrderCheck) forward.Status {
	if reason, gone := forward.DropReason(check); gone && !(unconfirmed(st) && reason == forward.ReasonReset) {
		return forward.Status{State: forward.Failed, Reason: reason, Attempts: st.Attempts}
	}
	return st
}

// streamStats is each Redis route's counters with its Streams' depth and
// head wait, read now (bounded: a slow Redis leaves them out).
func (a *AsyncQueues) streamStats() map[string]streamStat {
	a.mu.Lock()
	qs := make(map[string]*streamQueue, len(a.streams))
	for r, sq := range a.streams {
		qs[r] = sq
	}
	a.mu.Unlock()
	out := make(map[string]streamStat, len(qs))
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	for route, sq := range qs {
		s := streamStat{StreamStats: sq.fw.Stats(), depthOK: true}
		var oldest time.Time
		for _, act := range sq.activities {
			n, t, err := a.durable.QueueDepth(ctx, act)
			if err != nil {
				s.depthOK = false
				break
			}
			s.depth += n
			if !t.IsZero() && (oldest.IsZero() || t.Before(oldest)) {
				oldest = t
			}
		}
		if !oldest.IsZero() {
			s.headWait = max(time.Since(oldest), 0)
		}
		out[route] = s
	}
	return out
}

type streamStat struct {
	forward.StreamStats
	depth    int64
	headWait time.Duration
	depthOK  bool
}
