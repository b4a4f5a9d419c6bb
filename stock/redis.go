package stock

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"github.com/flashgate/flashgate/internal/ident"
)

// RedisOptions configure NewRedis.
type RedisOptions struct {
	// Client is the rueidis client (standalone or cluster) of the calls a
	// request waits on: a Take's scripts and the spec read of a cache miss.
	// Required. The store does not close it.
	Client rueidis.Client
	// Background is the client of everything else: the pub/sub listener,
	// the sync loop (sync, abandon, reconcile passes) and the admin calls
	// (Warm, TopUp, Counts, Left, Release), so that their dials, whose deadlines
	// are longer than a request's, and the subscription never hold a
	// connection a Take is queued for (see internal/redisconn). Default
	// Client. The store does not close it.
	Background rueidis.Client
	// Prefix starts every key and the pub/sub channel, e.g. "fg:".
	// Default "" (no prefix).
	Prefix string
	// Timeout bounds every Redis call, and how long Take waits for its
	// decision in total (the caller's ctx may cut it shorter). Default 100ms.
	Timeout time.Duration
	// SettleTimeout bounds the scripts of one Take, which run in the
	// background so that a caller giving up never loses their outcome: a
	// unit admitted after the caller left is given back at once. Past
	// SettleTimeout the outcome is settled by abandon.lua from the sync
	// loop instead (see doc.go). Default 30s; never less than Timeout.
	SettleTimeout time.Duration
	// MaxSettling bounds the Takes in flight (waited for or settling in
	// the background). Beyond it Take fails at once with ErrUnavailable and
	// sends nothing, so a hung Redis cannot pile up goroutines or queued
	// scripts. Default 10000.
	MaxSettling int
	// SyncInterval is how often the safety net re-reads shards believed
	// empty and checks each cached spec's version. Default 500ms.
	SyncInterval time.Duration
	// PendingAge is how old a pending mark must be before the sync loop's
	// Reconcile resolves it. Default 10s. Reconcile is correct at any age
	// (it fences before it decides); the age only keeps it off the marks of
	// Takes still in flight.
	PendingAge time.Duration
	// WaitReplicas, when > 0, makes every Take wait after the script that
	// takes its unit (take.lua, borrow.lua) until that many replicas have
	// acknowledged the write (WAIT on the same connection, replicas.go). A
	// unit fewer replicas acknowledged within WaitTimeout is given back
	// and the Take fails with ErrUnavailable. Default 0: no wait.
	WaitReplicas int
	// WaitTimeout bounds that WAIT; whole milliseconds, at least 1 (WAIT 0
	// would block for ever). Default 50ms; at most Timeout.
	WaitTimeout time.Duration
	// Now is the clock of pay_within deadlines: admissions set them and
	// the sweeper compares them with it. Instances should agree on the
	// time (NTP); a skew moves a release by as much. Default time.Now.
	Now func() time.Time
	// Logger gets the store's warnings (a loaded sale gone from Redis).
	// Default: discarded.
	Logger *slog.Logger
}

// RedisStore is the Store shared by every gateway instance. NewRedis
// returns one; type-assert to reach Reconcile and Stats.
type RedisStore struct {
	c             rueidis.Client // the request path's (RedisOptions.Client)
	bg            rueidis.Client // loops' and admin's (RedisOptions.Background)
	prefix        string
	channel       string
	timeout       time.Duration
	settleTimeout time.Duration
	maxSettling   int64
	interval      time.Duration
	pendingAge    time.Duration
	fenceKeep     string // ms abandon.lua keeps a fence, as an argument
	now           func() time.Time
	waitReplicas  int64             // RedisOptions.WaitReplicas; 0: no WAIT
	waitMS        int64             // RedisOptions.WaitTimeout in ms, WAIT's argument
	swept         sync.Map          // activity -> struct{}: swept even when not cached (pay.go)
	warmStep      func(step string) // tests only: called at Warm's steps (step)
	missing       sync.Map          // activity -> version: a shard answered "not loaded" (shardMissing)
	log           *slog.Logger

	mu   sync.Mutex                           // serialises cache writes
	acts atomic.Pointer[map[string]*redisAct] // copy-on-write; read without locks

	kick   chan struct{} // asks the sync loop for an early pass
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once

	subscribed atomic.Bool // the listener holds a live subscription

	closed    atomic.Bool  // Close was called: Take no longer starts work
	settling  atomic.Int64 // Takes in flight, bounded by maxSettling
	settlers  settlers     // run the background side of Takes
	deadlines *deadlines   // their SettleTimeout contexts
	queue     abandonQueue // unknown outcomes, for abandon.lua
	stats     statCounters
}

// redisAct is the cached spec of one activity, with everything a Take needs
// precomputed so that the hot path builds no key.
type redisAct struct {
	name    string
	version int64
	verStr  string
	shards  int
	perUser int64
	puStr   string // perUser as take.lua's argument
	// payWithin is the spec's pay_within: when > 0, take.lua and
	// settle.lua get the deadline and record it with the hold.
	payWithin time.Duration
	keys      [][]string // per shard, the five keys in script order
	idx       []string   // per shard, its index as a string
	meta      string
	empty     emptySet
}

// NewRedis returns a Store on Redis and starts its pub/sub listener and
// sync loop; Close stops them.
func NewRedis(o RedisOptions) (Store, error) {
	if o.Client == nil {
		return nil, errors.New("stock: RedisOptions.Client is nil")
	}
	if o.Background == nil {
		o.Background = o.Client
	}
	if o.Timeout <= 0 {
		o.Timeout = 100 * time.Millisecond
	}
	if o.SyncInterval <= 0 {
		o.SyncInterval = 500 * time.Millisecond
	}
	if o.PendingAge <= 0 {
		o.PendingAge = 10 * time.Second
	}
	if o.SettleTimeout <= 0 {
		o.SettleTimeout = 30 * time.Second
	}
	o.SettleTimeout = max(o.SettleTimeout, o.Timeout)
	if o.MaxSettling <= 0 {
		o.MaxSettling = 10000
	}
	if o.WaitTimeout <= 0 {
		o.WaitTimeout = 50 * time.Millisecond
	}
	waitMS := max(1, min(o.WaitTimeout, o.Timeout).Milliseconds())
	r := &RedisStore{
		c: o.Client, bg: o.Background, prefix: o.Prefix, channel: o.Prefix + "stock",
		timeout: o.Timeout, settleTimeout: o.SettleTimeout, maxSettling: int64(o.MaxSettling),
		interval: o.SyncInterval, pendingAge: o.PendingAge,
		fenceKeep:    strconv.FormatInt(fenceKeep(o).Milliseconds(), 10),
		kick:         make(chan struct{}, 1),
		now:          nowOrDefault(o.Now),
		waitReplicas: int64(max(0, o.WaitReplicas)), waitMS: waitMS,
		log: o.Logger,
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	empty := make(map[string]*redisAct)
	r.acts.Store(&empty)
	r.ctx, r.cancel = context.WithCancel(context.Background())
	r.settlers.run = r.complete
	r.deadlines = newDeadlines(r.ctx, r.settleTimeout)
	r.wg.Add(3)
	go r.listen()
	go r.syncLoop()
	go func() { defer r.wg.Done(); r.settlers.janitor(r.ctx) }()
	return r, nil
}

// Close stops the listener and the sync loop and cancels the Takes still
// settling in the background, as a crash would (see doc.go); Take fails
// with ErrUnavailable afterwards. It is idempotent.
func (r *RedisStore) Close() error {
	r.once.Do(func() {
		r.closed.Store(true)
		r.cancel()
		r.wg.Wait()
		// Cancelled, the background Takes end within a scheduling delay;
		// the bound only keeps a wedged client from hanging Close.
		for i := 0; i < 1000 && r.settling.Load() > 0; i++ {
			time.Sleep(time.Millisecond)
		}
		r.stats.lost.Add(uint64(r.queue.drain()))
	})
	return nil
}

func (r *RedisStore) cached(activity string) *redisAct { return (*r.acts.Load())[activity] }

// act returns the cached spec of activity, reading the meta key on a miss.
// It returns nil, nil when the activity is not loaded.
func (r *RedisStore) act(ctx context.Context, activity string) (*redisAct, error) {
	if a := r.cached(activity); a != nil {
		return a, nil
	}
	return r.reload(ctx, activity)
}

// reload reads the meta key and replaces the cached spec. A cached spec of
// the same version is kept, with its sold-out bits.
func (r *RedisStore) reload(ctx context.Context, activity string) (*redisAct, error) {
	if !ident.Valid(activity) {
		return nil, nil
	}
	meta := metaKey(r.prefix, activity)
	cctx, cancel := context.WithTimeout(ctx, r.timeout)
	m, err := r.c.Do(cctx, r.c.B().Hgetall().Key(meta).Build()).AsStrMap()
	cancel()
	if err != nil {
		return nil, unavailable("read spec", err)
	}
	version, _ := strconv.ParseInt(m["version"], 10, 64)
	shards, _ := strconv.Atoi(m["shards"])
	perUser, _ := strconv.ParseInt(m["per_user"], 10, 64)
	payMS, _ := strconv.ParseInt(m["pay_within"], 10, 64)
	if version <= 0 || shards < 1 || shards > MaxShards {
		r.lost(activity)
		return nil, nil
	}
	r.missing.Delete(activity) // a shard answered "not loaded" for a re-warm, not a loss
	r.mu.Lock()
	defer r.mu.Unlock()
	cur := *r.acts.Load()
	if a := cur[activity]; a != nil && a.version == version && a.payWithin.Milliseconds() == payMS {
		return a, nil
	}
	a := &redisAct{
		name: activity, version: version, verStr: m["version"], shards: shards, perUser: perUser, puStr: strconv.FormatInt(perUser, 10),
		payWithin: time.Duration(payMS) * time.Millisecond,
		keys:      make([][]string, shards), idx: make([]string, shards), meta: meta, empty: newEmptySet(shards),
	}
	for i := range shards {
		a.keys[i] = shardKeys(r.prefix, activity, i)
		a.idx[i] = strconv.Itoa(i)
	}
	r.store(cur, activity, a)
	return a, nil
}

// lost drops activity's cached spec: Redis no longer holds the sale's
// meta key. It says so once per loss (when this instance had it loaded,
// or a shard had just answered "not loaded" for it): its purchases answer
// not_loaded, and the operator's reflex, a warm, would sell its sold
// units again.
func (r *RedisStore) lost(activity string) {
	r.mu.Lock()
	cur := *r.acts.Load()
	was := cur[activity]
	if was != nil {
		r.store(cur, activity, nil)
	}
	r.mu.Unlock()
	var version int64
	if was != nil {
		version = was.version
	}
	if v, ok := r.missing.LoadAndDelete(activity); ok {
		version = v.(int64)
	}
	if version > 0 {
		r.log.Warn("stock: a loaded sale is gone from Redis (Redis restarted without persistence, was flushed, evicted it, or failed over before it replicated); its purchases answer not_loaded. Do not warm it again before reconciling with the backend's orders: a warm loads its full stock, and units already sold would sell again",
			"activity", activity, "version", version)
	}
}

// shardMissing drops a's cached spec after one of its shards answered
// "not loaded": a re-warm with fewer shards, or the sale lost. The next
// spec read tells them apart (lost logs a loss).
func (r *RedisStore) shardMissing(a *redisAct) {
	r.missing.Store(a.name, a.version)
	r.drop(a.name)
}

// drop forgets activity, so the next call reads its spec again.
func (r *RedisStore) drop(activity string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	cur := *r.acts.Load()
	if _, ok := cur[activity]; ok {
		r.store(cur, activity, nil)
	}
}

// store publishes a copy of cur with activity set to a (deleted if nil).
// r.mu is held.
func (r *RedisStore) store(cur map[string]*redisAct, activity string, a *redisAct) {
	next := make(map[string]*redisAct, len(cur)+1)
	for k, v := range cur {
		next[k] = v
	}
	if a == nil {
		delete(next, activity)
	} else {
		next[activity] = a
	}
	r.acts.Store(&next)
}

// run executes a shard script under the call timeout and returns its
// integer reply.
func (r *RedisStore) run(ctx context.Context, op string, s *rueidis.Lua, keys, args []string) (int64, error) {
	cctx, cancel := context.WithTimeout(ctx, r.timeout)
	v, err := call(cctx, r.c, op, s, keys, args)
	cancel()
	return v, err
}

// call executes a shard script under ctx alone: the steps of a Take, whose
// ctx carries SettleTimeout for all of them.
func call(ctx context.Context, c rueidis.Client, op string, s *rueidis.Lua, keys, args []string) (int64, error) {
	v, err := s.Exec(ctx, c, keys, args).AsInt64()
	if err != nil {
		return 0, unavailable(op, err)
	}
	return v, nil
}

var (
	errStale     = errors.New("stock: spec changed during the call")
	errFenced    = errors.New("stock: pending purchase was reconciled during the call")
	errLostMark  = errors.New("stock: pending mark vanished")
	errReply     = errors.New("stock: unexpected script reply")
	errAbandoned = errors.New("stock: attempt was abandoned before it ran")
	errFrozen    = errors.New("stock: the sale is frozen by a Warm's check; retry shortly")
)

func (r *RedisStore) SoldOut(activity string) bool {
	a := r.cached(activity)
	return a != nil && a.empty.all()
}

func (r *RedisStore) Take(ctx context.Context, activity string, user []byte) (Decision, error) {
	return r.takeOrder(ctx, activity, user, "")
}

// takeOrder returns within Timeout, whatever ctx: a stale spec's second
// attempt gets what the first left of it (see Bounded).
func (r *RedisStore) takeOrder(ctx context.Context, activity string, user []byte, order string) (Decision, error) {
	start := time.Now()
	left := func() time.Duration { return r.timeout - time.Since(start) }
	a := r.cached(activity)
	if a == nil && !ident.Valid(activity) {
		return Decision{Result: NotLoaded}, nil // before the context below: a bot's made-up name costs no allocation
	}
	for attempt := 0; ; attempt++ {
		if a == nil {
			rctx, cancel := context.WithTimeout(ctx, max(left(), 0))
			var err error
			a, err = r.reload(rctx, activity)
			cancel()
			if err != nil {
				return Decision{}, err
			}
			if a == nil {
				return Decision{Result: NotLoaded}, nil
			}
		}
		if a.empty.all() {
			return Decision{Result: SoldOut}, nil
		}
		d, err := r.await(ctx, a, user, order, left())
		if err != errStale {
			return d, err
		}
		if attempt == 1 {
			return Decision{}, unavailable("take", errStale)
		}
		a = nil // another instance re-warmed: read the spec again
	}
}

// Timeout is the bound of every Take and TakeOrder, ctx or not.
func (r *RedisStore) Timeout() time.Duration { return r.timeout }
