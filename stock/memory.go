package stock

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// ledgerLocks is how many mutexes guard the per-user ledgers of one
// activity. A Take locks only its user's one, so users rarely contend.
const ledgerLocks = 64

// memoryStore is the Store of a single gateway: no I/O; the only
// background work is the pay_within sweeper (memory_pay.go), started by
// the first Warm that sets a deadline.
type memoryStore struct {
	mu   sync.Mutex                         // serialises Warm
	acts atomic.Pointer[map[string]*memAct] // copy-on-write; read without locks
	vers map[string]int64                   // last version per activity, under mu
	now  func() time.Time
	sweeper
}

// memAct is one loaded activity. A forced re-Warm replaces it whole.
type memAct struct {
	spec    Spec
	version int64
	stock   []counter
	empty   emptySet
	sold    atomic.Bool  // something was admitted since the load
	topped  atomic.Int64 // units TopUp added since the load
	// retired and takers let Warm replace an unsold activity without
	// losing a Take that is admitting on it at that moment: a Take counts
	// itself in takers and backs off from a retired activity; Warm retires
	// first, waits for takers to drain, and only then looks at sold.
	retired atomic.Bool
	takers  atomic.Int64
	ledgers [ledgerLocks]ledger
	pay     memPay
}

// counter is one shard's stock, padded to its own cache line so that
// shards decremented on different cores do not share one.
type counter struct {
	v atomic.Int64
	_ [56]byte
}

// take decrements c if it is positive; it never goes below zero.
func (c *counter) take() bool {
	for {
		v := c.v.Load()
		if v <= 0 {
			return false
		}
		if c.v.CompareAndSwap(v, v-1) {
			return true
		}
	}
}

type ledger struct {
	mu    sync.Mutex
	users map[string]*memUser
}

type memUser struct {
	count int64 // units held
	next  int64 // last purchase number issued
	held  []heldUnit
	// unpaid are the sequence numbers released at their deadline, so that
	// a late Paid is told why (PaidTooLate) rather than PaidUnknown.
	unpaid []int64
}

type heldUnit struct {
	seq   int64
	shard int
	due   int64 // pay_within deadline, Unix ns; 0 once paid or without one
}

// NewMemory returns a Store that keeps everything in this process.
func NewMemory() Store { return NewMemoryClock(time.Now) }

// NewMemoryClock is NewMemory with the clock that pay_within deadlines
// are set and swept by, so that tests need no sleeps.
func NewMemoryClock(now func() time.Time) Store {
	m := &memoryStore{vers: make(map[string]int64), now: now}
	empty := make(map[string]*memAct)
	m.acts.Store(&empty)
	return m
}

func (m *memoryStore) get(activity string) *memAct { return (*m.acts.Load())[activity] }

func (m *memoryStore) Take(_ context.Context, activity string, user []byte) (Decision, error) {
	for {
		a := m.get(activity)
		if a == nil {
			return Decision{Result: NotLoaded}, nil
		}
		if a.empty.all() {
			return Decision{Result: SoldOut}, nil
		}
		a.takers.Add(1)
		if a.retired.Load() {
			// Being replaced by Warm: take from the new load instead.
			a.takers.Add(-1)
			runtime.Gosched()
			continue
		}
		d := a.take(user)
		a.takers.Add(-1)
		return d, nil
	}
}

// take decides for user on this load; the caller counts itself in takers.
func (a *memAct) take(user []byte) Decision {
	h := hash(user)
	l := &a.ledgers[h>>58]
	// The user's ledger lock makes the per-user check and the decrement
	// one step for this user; the stock itself stays lock-free.
	l.mu.Lock()
	u := l.users[string(user)]
	if u != nil && u.count >= a.spec.PerUser {
		l.mu.Unlock()
		return Decision{Result: LimitReached}
	}
	t := a.takeUnit(int(h % uint64(len(a.stock))))
	if t < 0 {
		l.mu.Unlock()
		return Decision{Result: SoldOut}
	}
	if u == nil {
		u = &memUser{held: make([]heldUnit, 0, min(a.spec.PerUser, 4))}
		l.users[string(user)] = u
	}
	u.next++
	u.count++
	seq := makeSeq(a.version, u.next)
	u.held = append(u.held, heldUnit{seq: seq, shard: t, due: a.pay.deadline()})
	a.sold.Store(true)
	l.mu.Unlock()
	return Decision{Result: Admitted, Seq: seq, Shard: t}
}

// takeUnit takes one unit, trying the home shard h first and then the
// others in order, and returns the shard or -1 when all are empty.
func (a *memAct) takeUnit(h int) int {
	n := len(a.stock)
	for k := 0; k < n; k++ {
		t := h + k
		if t >= n {
			t -= n
		}
		if a.stock[t].take() {
			return t
		}
		a.markEmpty(t)
	}
	return -1
}

// markEmpty sets t's bit, then re-reads the stock: a Release that added a
// unit and cleared the bit just before the set would otherwise leave the
// bit wrong for good (the memory store has no sync loop to repair it).
func (a *memAct) markEmpty(t int) {
	a.empty.set(t)
	if a.stock[t].v.Load() > 0 {
		a.empty.clear(t)
	}
}

func (a *memAct) addUnits(t int, n int64) {
	a.stock[t].v.Add(n)
	a.empty.clear(t)
}

func (m *memoryStore) SoldOut(activity string) bool {
	a := m.get(activity)
	return a != nil && a.empty.all()
}

// Issued reports whether order (activity, user, seq) was admitted in the
// activity's current load (see RedisStore.Issued).
func (m *memoryStore) Issued(_ context.Context, activity string, user []byte, seq int64) (bool, error) {
	a := m.get(activity)
	if a == nil {
		return false, nil
	}
	version, n := splitSeq(seq)
	if version != a.version {
		return false, nil
	}
	l := &a.ledgers[hash(user)>>58]
	l.mu.Lock()
	defer l.mu.Unlock()
	u := l.users[string(user)]
	return u != nil && n >= 1 && n <= u.next, nil
}

func (m *memoryStore) Release(_ context.Context, activity string, user []byte, seq int64) (bool, error) {
	a := m.get(activity)
	if a == nil {
		return false, nil
	}
	l := &a.ledgers[hash(user)>>58]
	l.mu.Lock()
	defer l.mu.Unlock()
	u := l.users[string(user)]
	if u == nil {
		return false, nil
	}
	for i, hu := range u.held {
		if hu.seq != seq {
			continue
		}
		last := len(u.held) - 1
		u.held[i] = u.held[last]
		u.held = u.held[:last]
		u.count--
		if hu.due != 0 {
			a.pay.held.Add(-1)
		}
		a.addUnits(hu.shard, 1)
		return true, nil
	}
	return false, nil
}

func (m *memoryStore) Warm(_ context.Context, s Spec, force bool) error {
	if err := s.Validate(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	old := m.get(s.Activity)
	if old != nil && !force && old.spec.sameStock(s) {
		old.pay.within.Store(int64(s.PayWithin))
		m.startSweeper(s.PayWithin)
		return nil
	}
	if old != nil {
		old.retired.Store(true)
		for old.takers.Load() > 0 {
			runtime.Gosched() // new Takes back off; the running ones finish
		}
		if !force && old.sold.Load() {
			old.retired.Store(false)
			return ErrExists
		}
	}
	m.vers[s.Activity]++
	a := &memAct{spec: s, version: m.vers[s.Activity], stock: make([]counter, s.Shards), empty: newEmptySet(s.Shards)}
	for i := range a.stock {
		a.stock[i].v.Store(share(s.Stock, s.Shards, i))
		if a.stock[i].v.Load() == 0 {
			a.empty.set(i)
		}
	}
	for i := range a.ledgers {
		a.ledgers[i].users = make(map[string]*memUser)
	}
	a.pay.now = m.now
	a.pay.within.Store(int64(s.PayWithin))
	m.startSweeper(s.PayWithin)
	cur := *m.acts.Load()
	next := make(map[string]*memAct, len(cur)+1)
	for k, v := range cur {
		next[k] = v
	}
	next[s.Activity] = a
	m.acts.Store(&next)
	return nil
}

func (m *memoryStore) Counts(_ context.Context, activity string) (Counts, error) {
	a := m.get(activity)
	if a == nil {
		return Counts{}, ErrNotLoaded
	}
	// Left first, then the top-ups: TopUp records its units before adding
	// them, so a unit seen in Left is never missing from Total.
	var left int64
	for i := range a.stock {
		left += a.stock[i].v.Load()
	}
	c := newCounts(a.spec.Stock, a.topped.Load(), left)
	c.Held, c.Paid, c.ReleasedUnpaid = a.pay.held.Load(), a.pay.paid.Load(), a.pay.unpaid.Load()
	return c, nil
}

func (m *memoryStore) Left(ctx context.Context, activity string) (int64, error) {
	c, err := m.Counts(ctx, activity)
	if err != nil {
		return -1, nil
	}
	return c.Left, nil
}

func (m *memoryStore) TopUp(_ context.Context, activity string, n int64) error {
	if n <= 0 || n > MaxUnits {
		return &specError{"top-up must be in 1..2^40"}
	}
	a := m.get(activity)
	if a == nil {
		return ErrNotLoaded
	}
	a.topped.Add(n)
	for i := range a.stock {
		if s := share(n, len(a.stock), i); s > 0 {
			a.addUnits(i, s)
		}
	}
	return nil
}

// Close stops the pay_within sweeper, if it runs. It is idempotent.
func (m *memoryStore) Close() error {
	m.stopSweeper()
	return nil
}
