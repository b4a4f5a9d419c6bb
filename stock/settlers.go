package stock

// The background side of a Take (complete, in await.go) costs what it
// costs Redis and nothing more: it runs on goroutines that outlive one
// Take, under a deadline shared by the Takes of a short slice.

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// settlers run complete on long-lived goroutines. A goroutine per Take
// (go r.complete(op)) started on a 2 KiB stack that was copied to a
// bigger one two or three times on its way through rueidis:
// runtime.newstack was 8.7% of the gateway's CPU in the bench's purchase
// storm and 12% of BenchmarkAdmitRedis. A settler's stack grows once and
// stays grown while it works. fasthttp's workerPool does the same for
// connections. Settlers are as many as the Takes in flight at the peak
// (MaxSettling bounds them); one idle for settlerIdle exits.
type settlers struct {
	run func(*takeOp)

	mu     sync.Mutex
	idle   []*settler // LIFO: the last one parked has the warmest stack
	closed bool
}

type settler struct {
	ops    chan *takeOp // capacity 1: submit never waits for the settler
	parked time.Time    // when it went idle, under settlers.mu
}

// settlerIdle is how long an idle settler waits for work before it exits.
const settlerIdle = 10 * time.Second

// submit hands op to an idle settler, or to a new one.
func (p *settlers) submit(op *takeOp) {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		s := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		s.ops <- op
		return
	}
	p.mu.Unlock()
	s := &settler{ops: make(chan *takeOp, 1)}
	s.ops <- op
	go p.loop(s)
}

func (p *settlers) loop(s *settler) {
	for op := range s.ops {
		p.run(op)
		if !p.park(s) {
			return
		}
	}
}

// park returns s to the idle list; false once the store is closed.
func (p *settlers) park(s *settler) bool {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	s.parked = now
	p.idle = append(p.idle, s)
	return true
}

// retire stops the settlers idle since before cutoff (the oldest are at
// the bottom of the list), or all of them when closing.
func (p *settlers) retire(cutoff time.Time, closing bool) {
	p.mu.Lock()
	n := 0
	for n < len(p.idle) && (closing || p.idle[n].parked.Before(cutoff)) {
		close(p.idle[n].ops)
		n++
	}
	kept := copy(p.idle, p.idle[n:])
	clear(p.idle[kept:])
	p.idle = p.idle[:kept]
	if closing {
		p.closed = true
	}
	p.mu.Unlock()
}

// janitor retires idle settlers until ctx ends, then all of them.
func (p *settlers) janitor(ctx context.Context) {
	t := time.NewTicker(settlerIdle / 2)
	defer t.Stop()
	for {
		select {
		case now := <-t.C:
			p.retire(now.Add(-settlerIdle), false)
		case <-ctx.Done():
			p.retire(time.Time{}, true)
			return
		}
	}
}

// deadlines hands out the background side's context: one per slice,
// shared by every Take that starts in it, ending between SettleTimeout
// and SettleTimeout + slice after each of them started. A
// context.WithTimeout per Take (a timerCtx and a runtime timer, armed and
// stopped) was 3.6% of the gateway's CPU in the purchase storm and 7.5%
// of BenchmarkAdmitRedis. A slot is never cancelled early: its deadline,
// or the store's ctx at Close, ends it.
type deadlines struct {
	parent context.Context
	d      time.Duration // SettleTimeout
	slice  time.Duration
	cur    atomic.Pointer[deadlineSlot]
}

type deadlineSlot struct {
	ctx    context.Context
	cancel context.CancelFunc // kept for vet; the deadline frees it
	until  time.Time          // Takes starting before it share ctx
}

// newDeadlines shares each context over a slice of a tenth of d, at most
// 10 ms: a 30 s SettleTimeout keeps about 3,000 slots alive at full load.
func newDeadlines(parent context.Context, d time.Duration) *deadlines {
	return &deadlines{parent: parent, d: d, slice: max(time.Millisecond, min(10*time.Millisecond, d/10))}
}

// get returns a context ending at least d from now.
func (p *deadlines) get() context.Context {
	now := time.Now()
	if s := p.cur.Load(); s != nil && now.Before(s.until) {
		return s.ctx
	}
	ctx, cancel := context.WithDeadline(p.parent, now.Add(p.d+p.slice))
	// Two Takes may both renew at a slice's end: each keeps the one it
	// made, and the later one serves the slice.
	p.cur.Store(&deadlineSlot{ctx: ctx, cancel: cancel, until: now.Add(p.slice)})
	return ctx
}
