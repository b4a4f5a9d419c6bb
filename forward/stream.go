package forward

import (
	"context"
	"errors"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flashgate/flashgate/stock"
)

// The fleet's durable queue: a Forwarder in every gateway instance reads
// the Redis store's per-shard orders Streams through one consumer group
// and delivers at a rate shared by all instances (see README, async mode
// on Redis, and stock/doc.go for the held-mark check).

// StreamLog is the Redis store's queue as a Forwarder uses it
// (*stock.RedisStore).
type StreamLog interface {
	OrderShards(ctx context.Context, activity string) (int, error)
	CreateGroups(ctx context.Context, activity, group string) error
	ReadOrders(ctx context.Context, activity string, shard int, group, consumer string, count int) ([]stock.QueuedOrder, error)
	ReadOwnPending(ctx context.Context, activity string, shard int, group, consumer, after string, count int) ([]stock.QueuedOrder, error)
	ClaimIdle(ctx context.Context, activity string, shard int, group, consumer string, idle time.Duration, count int, cursor string) ([]stock.QueuedOrder, string, error)
	Touch(ctx context.Context, activity string, shard int, group, consumer string, ids []string) ([]string, error)
	HandBack(ctx context.Context, activity string, shard int, group, consumer string, ids []string) (int, error)
	Check(ctx context.Context, q *stock.QueuedOrder) (stock.OrderCheck, error)
	Peek(ctx context.Context, q *stock.QueuedOrder) (stock.OrderCheck, error)
	Finish(ctx context.Context, q *stock.QueuedOrder, group, deadReason string) (bool, error)
	Release(ctx context.Context, activity string, user []byte, seq int64) (bool, error)
	PutOrderStatus(ctx context.Context, activity, user string, seq int64, rec []byte, ttl time.Duration) error
	PutQueuedStatus(ctx context.Context, activity, user string, seq int64, rec []byte, ttl time.Duration) error
	OrderStatus(ctx context.Context, activity, user string, seq int64) ([]byte, stock.OrderState, error)
}

// Pacer is the delivery rate shared by every instance (a
// redisgcra.Reserver): Reserve either reserves the next free slot (ok;
// the delivery starts after wait, and must: a slot reserved is the rate
// spent), or refuses, the next slot being too far ahead (ask again after
// wait).
type Pacer interface {
	Reserve(ctx context.Context) (wait time.Duration, ok bool, err error)
}

// StreamConfig configures a Forwarder. Zero durations take the defaults.
type StreamConfig struct {
	Activities []string // the route's sales: their Streams are read
	Group      string   // the consumer group, one per route
	Consumer   string   // unique per instance
	// MaxInflight bounds the orders this instance holds at once, from
	// their read to their ack (the wait for a rate slot and retries
	// included): so an instance that dies leaves at most MaxInflight
	// orders that may have been sent and will be sent again. Default 32.
	MaxInflight int
	Attempts    int           // default 6; counted as classify says
	Backoff     time.Duration // default 200ms
	BackoffMax  time.Duration // default 10s
	// MaxWait bounds an order's retries from its admission (the entry
	// id's milliseconds, Redis's clock): see Config.MaxWait. Default 10m.
	MaxWait     time.Duration
	SendTimeout time.Duration // default 10s
	// ClaimIdle is how long an entry must be idle before another instance
	// takes it over. Live forwarders touch theirs every ClaimIdle/3.
	// Default 30s; it must exceed SendTimeout (conf checks it).
	ClaimIdle time.Duration
	StatusTTL time.Duration // how long a final status is kept; default 24h
	// PollMin and PollMax bound the adaptive poll: PollMin while busy,
	// doubling to PollMax while idle. Defaults 2ms and 100ms.
	PollMin, PollMax time.Duration
}

// StreamStats counts what a Forwarder did.
type StreamStats struct {
	Delivered, Retried, DeadLettered, ReleaseFailed, Dropped, TakenOver uint64
	// HandedBack counts the orders this forwarder gave back unfinished
	// when it stopped, for another instance to take over at once.
	HandedBack uint64
	Dead       DeadCounts // DeadLettered by reason
	// Duplicates counts sends of an order that may have reached the
	// backend before, by cause: claimed_from_dead (taken over from
	// another instance after it had claimed it), retry_after_timeout
	// (sent again after no answer).
	ClaimedFromDead, RetryAfterTimeout uint64
	Inflight                           int
}

// Forwarder delivers one async route's orders from the Redis Streams.
type Forwarder struct {
	cfg  StreamConfig
	pol  policy
	log  StreamLog
	send Sender
	pace Pacer

	sem   chan struct{}
	mu    sync.Mutex
	owned map[string]*streamItem // by activity/shard/id: read and not finished
	// doneThisRound is the entries finished since this round's reads
	// began (nil between ownAll and the next round): see beginReads.
	doneThisRound map[string]struct{}
	// grouped is each activity's shard count whose groups exist, so the
	// refresh each second creates groups only for new Streams (Run's
	// goroutine alone uses it).
	grouped map[string]int
	st      struct {
		delivered, retried, dead, relFailed, dropped, takenOver, fromDead, afterTimeout, handedBack atomic.Uint64
		deadBy                                                                                      [len(DeadReasons)]atomic.Uint64
	}
}

type streamItem struct {
	q    stock.QueuedOrder
	lost atomic.Bool // another consumer owns it now: stop working on it
	// fromDead: claimed by a consumer before this one (it may have sent
	// it); counted as claimed_from_dead at its first send here. Its
	// deliver goroutine alone uses it.
	fromDead bool
}

// NewForwarder returns a Forwarder; Run starts it.
func NewForwarder(cfg StreamConfig, log StreamLog, send Sender, pace Pacer) (*Forwarder, error) {
	if len(cfg.Activities) == 0 || cfg.Group == "" || cfg.Consumer == "" {
		return nil, errors.New("forward: a stream forwarder needs activities, a group and a consumer name")
	}
	def := func(p *time.Duration, v time.Duration) {
		if *p <= 0 {
			*p = v
		}
	}
	if cfg.MaxInflight <= 0 {
		cfg.MaxInflight = 32
	}
	def(&cfg.SendTimeout, 10*time.Second)
	def(&cfg.ClaimIdle, 30*time.Second)
	def(&cfg.StatusTTL, 24*time.Hour)
	def(&cfg.PollMin, 2*time.Millisecond)
	def(&cfg.PollMax, 100*time.Millisecond)
	return &Forwarder{cfg: cfg, log: log, send: send, pace: pace,
		pol: newPolicy(cfg.Attempts, cfg.Backoff, cfg.BackoffMax, cfg.MaxWait),
		sem: make(chan struct{}, cfg.MaxInflight), owned: map[string]*streamItem{}, grouped: map[string]int{}}, nil
}

// Stats returns the counters so far.
func (f *Forwarder) Stats() StreamStats {
	st := StreamStats{
		Delivered: f.st.delivered.Load(), Retried: f.st.retried.Load(), DeadLettered: f.st.dead.Load(),
		ReleaseFailed: f.st.relFailed.Load(), Dropped: f.st.dropped.Load(), TakenOver: f.st.takenOver.Load(),
		ClaimedFromDead: f.st.fromDead.Load(), RetryAfterTimeout: f.st.afterTimeout.Load(), HandedBack: f.st.handedBack.Load(),
		Inflight: len(f.sem),
	}
	for i := range st.Dead {
		st.Dead[i] = f.st.deadBy[i].Load()
	}
	return st
}

type shardRef struct {
	activity string
	shard    int
}

// Run reads and delivers until ctx is done. Sends already under way then
// finish (each within SendTimeout) and are acked as usual; the orders it
// holds but will not send now (waiting for a rate slot or a retry, or
// read and not started) are handed back (HandBack), so another instance
// takes them over within a second instead of after ClaimIdle. Only what a
// killed instance leaves waits out ClaimIdle.
func (f *Forwarder) Run(ctx context.Context) {
	// work outlives ctx by the tail: sends under way, their records and
	// acks. It ends tailGrace after the last send could have.
	work, endWork := context.WithCancel(context.WithoutCancel(ctx))
	defer endWork()
	stopTail := context.AfterFunc(ctx, func() { time.AfterFunc(f.cfg.SendTimeout+tailGrace, endWork) })
	defer stopTail()

	var wg sync.WaitGroup
	var left []*streamItem // owned, not finished: handed back at the end
	var leftMu sync.Mutex
	// The touches go on through the tail, so a send that finishes after
	// the stop never looks idle to another instance; they end with the
	// last delivery.
	touchCtx, stopTouch := context.WithCancel(work)
	touched := make(chan struct{})
	go func() { defer close(touched); f.touchLoop(touchCtx) }()
	// Streams a read (or takeover scan) of which failed: Redis may have
	// run it and lost the reply (a timeout while it was frozen), leaving
	// the entries pending here unseen. They are read again from this
	// consumer's own pending list before the next read, not left to wait
	// out ClaimIdle, and handed back with the rest at a stop.
	reread := map[shardRef]bool{}
	defer func() {
		wg.Wait()
		stopTouch()
		<-touched
		// Its own bound, not work's: a tail that used work up (Redis slow
		// for its records and acks) must still hand back what it holds.
		hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), tailGrace)
		defer cancel()
		// The unseen first: its read of the own pending list restarts
		// the idle time of every entry pending here, which would undo
		// a hand-back made before it.
		f.handBackUnseen(hctx, reread)
		f.handBack(hctx, left)
	}()

	var shards []shardRef
	cursors := map[shardRef]string{} // XAUTOCLAIM scan position per Stream
	var refreshed, claimed time.Time
	poll := f.cfg.PollMin
	var buf []stock.QueuedOrder
	var items []*streamItem
	for round := 0; ctx.Err() == nil; round++ {
		now := time.Now()
		if now.Sub(refreshed) > time.Second || len(shards) == 0 {
			shards = f.refresh(ctx, shards)
			refreshed = now
		}
		// The reads run under work, not ctx: one cut off by the stop after
		// Redis ran it would leave its entries pending here unseen, to
		// wait out ClaimIdle; read, they are handed back below.
		//
		// Read no more than there are free slots, so every entry read is
		// owned (and touched) at once, and starts at once: an entry read
		// but left waiting untouched could look idle to another instance.
		// The first shard read rotates, so a small budget reaches all.
		f.beginReads()
		free := f.cfg.MaxInflight - len(f.sem)
		buf = buf[:0]
		if free > 0 && len(shards) > 0 {
			per := max(1, free/len(shards))
			takeOver := now.Sub(claimed) > f.scanEvery()
			if takeOver {
				claimed = now
			}
			for j := range shards {
				if ctx.Err() != nil {
					break // stopping: read nothing more, to hand it back
				}
				s := shards[(round+j)%len(shards)]
				if n := min(per, free-len(buf)); takeOver && n > 0 {
					cur := cursors[s]
					if cur == "" {
						cur = "0-0"
					}
					qs, next, err := f.log.ClaimIdle(work, s.activity, s.shard, f.cfg.Group, f.cfg.Consumer, f.cfg.ClaimIdle, n, cur)
					cursors[s] = next
					if next != "0-0" {
						claimed = time.Time{} // more to scan: go on next round
					}
					switch {
					case err == nil:
						buf = append(buf, qs...)
					case !stock.IsNoGroup(err):
						reread[s] = true // it may have claimed entries we never saw
					}
				}
				n := min(per, free-len(buf))
				if n <= 0 {
					continue
				}
				if reread[s] {
					qs, err := f.readOwn(work, s)
					switch {
					case stock.IsNoGroup(err):
						// The group is gone (Redis lost it): so is its
						// pending list. Re-create it, as below.
						delete(reread, s)
						refreshed = time.Time{}
						clear(f.grouped)
					case err == nil:
						delete(reread, s)
						buf = append(buf, qs...)
					default:
						// Redis still failing: no new read either, which
						// would leave more entries pending here unseen.
						continue
					}
				}
				qs, err := f.log.ReadOrders(work, s.activity, s.shard, f.cfg.Group, f.cfg.Consumer, n)
				switch {
				case stock.IsNoGroup(err):
					refreshed = time.Time{} // re-create the groups next round
					clear(f.grouped)
				case err != nil:
					reread[s] = true
				}
				buf = append(buf, qs...)
			}
		}
		// Roughly admission order across shards: by entry id (ms-seq).
		sort.SliceStable(buf, func(i, j int) bool { return idLess(buf[i].ID, buf[j].ID) })
		items = f.ownAll(buf, items[:0])
		for i, it := range items {
			select {
			case f.sem <- struct{}{}:
			case <-ctx.Done():
				leftMu.Lock()
				left = append(left, items[i:]...) // read, never started
				leftMu.Unlock()
				for _, it := range items[i:] {
					f.disown(it)
				}
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-f.sem }()
				if !f.deliver(ctx, work, it) && !it.lost.Load() {
					leftMu.Lock()
					left = append(left, it)
					leftMu.Unlock()
				}
				f.disown(it)
			}()
		}
		if len(buf) > 0 {
			poll = f.cfg.PollMin
		} else {
			poll = min(2*poll, f.cfg.PollMax)
		}
		if sleep(ctx, poll) != nil {
			return
		}
	}
}

// tailGrace bounds a stopping forwarder's Redis work after its last send
// could have ended (the records and acks of those sends), and then
// HandBack's.
const tailGrace = 2 * time.Second

// scanEvery is how often idle entries are looked for: every second, so an
// order handed back at a stop (or left by an instance dead for
// ClaimIdle) waits about a second, not another ClaimIdle/2. XAUTOCLAIM
// scans the group's pending entries, at most MaxInflight per instance.
func (f *Forwarder) scanEvery() time.Duration {
	return min(f.cfg.ClaimIdle/2, time.Second)
}

// refresh lists the Streams (shards) of the route's sales and makes sure
// their group exists; a sale not loaded yet is skipped until it is.
func (f *Forwarder) refresh(ctx context.Context, cur []shardRef) []shardRef {
	var out []shardRef
	for _, a := range f.cfg.Activities {
		n, err := f.log.OrderShards(ctx, a)
		if err != nil {
			for _, s := range cur { // Redis away: keep what we had
				if s.activity == a {
					out = append(out, s)
				}
			}
			continue
		}
		if n == 0 {
			continue
		}
		if f.grouped[a] != n {
			if f.log.CreateGroups(ctx, a, f.cfg.Group) != nil {
				continue
			}
			f.grouped[a] = n
		}
		for i := range n {
			out = append(out, shardRef{a, i})
		}
	}
	return out
}

// idLess orders Stream entry ids "ms-seq" numerically.
func idLess(a, b string) bool {
	am, as, _ := strings.Cut(a, "-")
	bm, bs, _ := strings.Cut(b, "-")
	if len(am) != len(bm) {
		return len(am) < len(bm)
	}
	if am != bm {
		return am < bm
	}
	if len(as) != len(bs) {
		return len(as) < len(bs)
	}
	return as < bs
}

func jitter() float64 { return rand.Float64() }
