package redisconn

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"
)

// DefaultMaxWaiting bounds the calls of one client in flight, counting
// those whose caller has already left (see Bound). Healthy calls last well
// under a millisecond, so only an outage comes near it: 10,000 calls
// arriving within one dial_timeout while Redis does not answer.
const DefaultMaxWaiting = 10000

// ErrTooManyWaiting is the error of a call refused at once because
// maxWaiting calls of its client are still in flight: Redis is not
// answering, and the caller fails closed as it would at its timeout.
var ErrTooManyWaiting = errors.New("redisconn: too many Redis calls in flight")

// Bound wraps c so that Do and DoMulti, and with them Lua Exec and
// ExecMulti, return once ctx is done, whatever rueidis is waiting for.
//
// rueidis honours ctx while a command waits for its reply, but not while
// it waits for another caller's dial of the connection it needs (mux.go
// `_pipe`, see the package doc); then a call can take dial_timeout instead
// of its own timeout. So a call with a cancellable ctx runs on its own
// goroutine and the caller waits for the first of its result and ctx.Done.
// The goroutine keeps the same ctx: once the dial it waited for ends it
// finds ctx done and sends nothing, so a caller that left never leaves a
// command behind it to run later. A command already written when ctx ended
// may still run, exactly as without Bound; the callers already allow for
// it (stock compensates a late Take, a late single_use claim or limiter
// admission only errs on the side of refusing).
//
// The goroutine is the price of a bound no other caller can break.
// BenchmarkDo (bound_bench_test.go, GET on loopback, 2 shared cores)
// measured it: from parallel callers, as under load, 41–49 µs/op bounded
// against 40–50 raw, no difference beyond noise; a lone caller pays the
// wake-up of a second thread, 95–104 µs against 64–94; one allocation
// more (the goroutine's closure). Calls that no dial can outlast (no
// Done channel, as context.Background, or a deadline further than twice
// dialTimeout) go straight to rueidis. At most maxWaiting calls are in
// flight; beyond that Do fails at once with
// ErrTooManyWaiting, so a frozen Redis cannot pile up goroutines. The
// other methods (Receive, Dedicated, the cache and stream calls) pass
// through unchanged: flashgate calls them only from background loops, or
// not at all.
func Bound(c rueidis.Client, dialTimeout time.Duration, maxWaiting int) rueidis.Client {
	if maxWaiting <= 0 {
		maxWaiting = DefaultMaxWaiting
	}
	if dialTimeout <= 0 {
		dialTimeout = rueidis.DefaultDialTimeout
	}
	// A dial is a TCP connect and then the HELLO handshake, each bounded
	// by Dialer.Timeout.
	return &bounded{Client: c, maxDial: 2 * dialTimeout, max: int64(maxWaiting)}
}

type bounded struct {
	rueidis.Client
	maxDial  time.Duration // the longest a dial can make a call wait
	inflight atomic.Int64  // calls whose goroutine has not returned
	max      int64
}

// direct reports whether a call under ctx can go straight to rueidis: when
// ctx cannot be cancelled, or when its deadline is further away than any
// dial can last, so that rueidis's own ctx handling is bound enough. A
// Take settling in the background (SettleTimeout) is such a call; its
// caller is already bounded by the stock store's await.
func (b *bounded) direct(ctx context.Context) bool {
	if ctx.Done() == nil {
		return true
	}
	dl, ok := ctx.Deadline()
	return ok && time.Until(dl) > b.maxDial
}

// call is one Do or DoMulti in flight. state says whether the caller still
// waits, so that exactly one of the caller and the goroutine recycles it.
type call struct {
	state atomic.Uint32
	done  chan struct{} // capacity 1: the goroutine never blocks

	b     *bounded
	ctx   context.Context
	cmd   rueidis.Completed
	multi []rueidis.Completed
	res   rueidis.RedisResult
	ress  []rueidis.RedisResult
}

const (
	callWaiting   uint32 = iota // the caller waits
	callDelivered               // the caller has the result
	callAbandoned               // the caller left; the goroutine recycles
)

var calls = sync.Pool{New: func() any { return &call{done: make(chan struct{}, 1)} }}

func (c *call) recycle() {
	c.b, c.ctx, c.cmd, c.multi, c.res, c.ress = nil, nil, rueidis.Completed{}, nil, rueidis.RedisResult{}, nil
	calls.Put(c)
}

// start admits a call, or returns the error it fails with at once.
func (b *bounded) start(ctx context.Context) (*call, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if b.inflight.Add(1) > b.max {
		b.inflight.Add(-1)
		return nil, ErrTooManyWaiting
	}
	c := calls.Get().(*call)
	c.state.Store(callWaiting)
	c.b, c.ctx = b, ctx
	return c, nil
}

// run is the goroutine of a call.
func (c *call) run() {
	b := c.b
	if c.multi != nil {
		c.ress = b.Client.DoMulti(c.ctx, c.multi...)
	} else {
		c.res = b.Client.Do(c.ctx, c.cmd)
	}
	b.inflight.Add(-1)
	if c.state.CompareAndSwap(callWaiting, callDelivered) {
		c.done <- struct{}{} // c belongs to the caller from here on
		return
	}
	c.recycle()
}

// wait returns true when the result is in c (the caller then recycles c),
// false when ctx ended first (c is the goroutine's).
func (c *call) wait(ctx context.Context) bool {
	select {
	case <-c.done:
		return true
	case <-ctx.Done():
	}
	if c.state.CompareAndSwap(callWaiting, callAbandoned) {
		return false
	}
	<-c.done // delivered while we were giving up: the result is ours
	return true
}

func (b *bounded) Do(ctx context.Context, cmd rueidis.Completed) rueidis.RedisResult {
	if b.direct(ctx) {
		return b.Client.Do(ctx, cmd)
	}
	c, err := b.start(ctx)
	if err != nil {
		return rueidis.NewErrorResult(err)
	}
	c.cmd = cmd
	go c.run()
	if !c.wait(ctx) {
		return rueidis.NewErrorResult(ctx.Err())
	}
	res := c.res
	c.recycle()
	return res
}

func (b *bounded) DoMulti(ctx context.Context, multi ...rueidis.Completed) []rueidis.RedisResult {
	if len(multi) == 0 || b.direct(ctx) {
		return b.Client.DoMulti(ctx, multi...)
	}
	c, err := b.start(ctx)
	if err != nil {
		return errorResults(len(multi), err)
	}
	c.multi = multi
	go c.run()
	if !c.wait(ctx) {
		return errorResults(len(multi), ctx.Err())
	}
	res := c.ress
	c.recycle()
	return res
}

func errorResults(n int, err error) []rueidis.RedisResult {
	out := make([]rueidis.RedisResult, n)
	for i := range out {
		out[i] = rueidis.NewErrorResult(err)
	}
	return out
}
