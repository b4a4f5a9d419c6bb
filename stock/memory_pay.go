package stock

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// memPay is one memory activity's pay_within state: the deadline setting
// and the numbers Counts reports. The deadline of each unit lives in its
// heldUnit, under the user's ledger lock, so Paid and the sweeper decide
// on it one at a time: exactly one of them wins.
type memPay struct {
	within atomic.Int64 // Spec.PayWithin in ns; 0: no deadline
	now    func() time.Time
	held   atomic.Int64 // units with a deadline, not paid, not given back
	paid   atomic.Int64 // payments confirmed
	unpaid atomic.Int64 // units released at their deadline
}

// deadline is the deadline of a unit admitted now (Unix ns), or 0 when
// the activity has none. It counts the unit as held; the caller holds the
// user's ledger lock and admits the unit.
func (p *memPay) deadline() int64 {
	w := p.within.Load()
	if w <= 0 {
		return 0
	}
	p.held.Add(1)
	return p.now().UnixNano() + w
}

func (m *memoryStore) Paid(_ context.Context, activity string, user []byte, seq int64) (PaidResult, error) {
	a := m.get(activity)
	if a == nil {
		return 0, ErrNotLoaded
	}
	l := &a.ledgers[hash(user)>>58]
	l.mu.Lock()
	defer l.mu.Unlock()
	u := l.users[string(user)]
	if u == nil {
		return PaidUnknown, nil
	}
	for i := range u.held {
		hu := &u.held[i]
		if hu.seq != seq {
			continue
		}
		if hu.due == 0 {
			return PaidAlready, nil
		}
		hu.due = 0
		a.pay.held.Add(-1)
		a.pay.paid.Add(1)
		return PaidNow, nil
	}
	for _, s := range u.unpaid {
		if s == seq {
			return PaidTooLate, nil
		}
	}
	return PaidUnknown, nil
}

// Sweep gives back every unit whose deadline has passed by the store's
// clock, one ledger lock at a time.
func (m *memoryStore) Sweep(context.Context) (int, error) {
	var n int
	for _, a := range *m.acts.Load() {
		n += a.sweep(m.now().UnixNano())
	}
	return n, nil
}

func (a *memAct) sweep(now int64) int {
	var n int
	for i := range a.ledgers {
		l := &a.ledgers[i]
		l.mu.Lock()
		for _, u := range l.users {
			for j := 0; j < len(u.held); {
				hu := u.held[j]
				if hu.due == 0 || hu.due > now {
					j++
					continue
				}
				last := len(u.held) - 1
				u.held[j] = u.held[last]
				u.held = u.held[:last]
				u.count--
				u.unpaid = append(u.unpaid, hu.seq)
				a.pay.held.Add(-1)
				a.pay.unpaid.Add(1)
				a.addUnits(hu.shard, 1)
				n++
			}
		}
		l.mu.Unlock()
	}
	return n
}

// sweepEvery is how often the memory store's sweeper runs: a unit is
// given back at most this long after its deadline.
const sweepEvery = 500 * time.Millisecond

// sweeper runs memoryStore.Sweep in the background once an activity has
// a deadline; Close stops it.
type sweeper struct {
	every time.Duration // default sweepEvery; tests set it before the first Warm
	start sync.Once
	stop  sync.Once
	done  chan struct{}
	wg    sync.WaitGroup
}

func (m *memoryStore) startSweeper(within time.Duration) {
	if within <= 0 {
		return
	}
	m.sweeper.start.Do(func() {
		m.sweeper.done = make(chan struct{})
		m.sweeper.wg.Add(1)
		go func() {
			defer m.sweeper.wg.Done()
			every := m.sweeper.every
			if every <= 0 {
				every = sweepEvery
			}
			t := time.NewTicker(every)
			defer t.Stop()
			for {
				select {
				case <-m.sweeper.done:
					return
				case <-t.C:
					_, _ = m.Sweep(context.Background())
				}
			}
		}()
	})
}

func (m *memoryStore) stopSweeper() {
	m.sweeper.stop.Do(func() {
		m.sweeper.start.Do(func() {}) // no sweeper may start after Close
		if m.sweeper.done != nil {
			close(m.sweeper.done)
			m.sweeper.wg.Wait()
		}
	})
}
