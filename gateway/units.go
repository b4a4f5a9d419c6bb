package gateway

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/flashgate/flashgate/internal/userid"
	"github.com/flashgate/flashgate/stock"
)

// Units is the one owner of stock units: the stock filter takes a unit
// through it, and every unit that goes back (a failed order, a chain that
// refused after stock, a full queue, a dead letter, the admin release)
// goes back through it, counted by cause in flashgate_stock_releases_total
// or, when the store failed, in flashgate_stock_release_failures_total.
//
// A give-back the answer does not depend on (the request is answered
// 502, 503 or with the backend's error whatever the store says) runs off
// the response path: GiveBack copies the unit into a bounded queue that a
// few workers drain with their own timeout, so the client never waits
// for Redis. It is decided exactly where it was before, so a unit whose
// order may have reached the backend is never given back (README, the
// backend contract). With the in-process store the give-back costs
// nanoseconds and no I/O, so it runs at once.
type Units struct {
	store   stock.Store
	local   bool
	log     *slog.Logger
	timeout time.Duration

	// mu guards jobs against Close: a request that gives back after
	// Close (a shutdown that timed out) releases in the request instead.
	mu     sync.RWMutex
	closed bool
	jobs   chan giveBack
	ctx    context.Context // cancelled when Close gives up waiting
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// giveBack is one queued unit, copied out of the request so the queue
// holds no request memory: a fixed array, so queueing allocates nothing.
type giveBack struct {
	activity *Activity
	seq      int64
	cause    string
	n        uint8
	user     [userid.Max]byte
}

const (
	// releaseTimeout bounds one give-back: longer than a request's Redis
	// bound, since nobody waits for it.
	releaseTimeout = 5 * time.Second
	// releaseQueue bounds the give-backs waiting for a worker. A full
	// queue gives back in the request instead (the old, slower way), so a
	// burst of failed orders costs latency, never a unit.
	releaseQueue = 4096
	// releaseWorkers give back concurrently; rueidis pipelines them.
	releaseWorkers = 4
)

// NewUnits returns the owner of store's units, with its workers running
// until Close. store may be nil (a gateway with no stock filter).
func NewUnits(store stock.Store, log *slog.Logger) *Units {
	if log == nil {
		log = slog.Default()
	}
	u := &Units{store: store, log: log, timeout: releaseTimeout}
	u.ctx, u.cancel = context.WithCancel(context.Background())
	if store == nil {
		return u
	}
	u.local = stock.IsLocal(store)
	if !u.local {
		u.jobs = make(chan giveBack, releaseQueue)
		for range releaseWorkers {
			u.wg.Add(1)
			go u.work()
		}
	}
	return u
}

// Store is the store behind the units, for reads (counts, sold out).
func (u *Units) Store() stock.Store { return u.store }

// Local reports an in-process store, which needs no deadline.
func (u *Units) Local() bool { return u.local }

// Take takes one unit of activity for user.
func (u *Units) Take(ctx context.Context, activity string, user []byte) (stock.Decision, error) {
	return u.store.Take(ctx, activity, user)
}

// SoldOut reports what this gateway already knows: a few atomic loads.
func (u *Units) SoldOut(activity string) bool { return u.store.SoldOut(activity) }

// GiveBack gives the request's held unit back, if it holds one, off the
// response path (see Units). It allocates nothing.
func (u *Units) GiveBack(r *Request, cause string) {
	t := r.Ticket
	if !t.Held || r.Activity == nil || u == nil || u.store == nil {
		return
	}
	r.Ticket.Held = false
	if u.local || len(r.User) > userid.Max {
		_, _ = u.release(context.Background(), r.Activity.ID, r.User, t.Seq, cause)
		return
	}
	j := giveBack{activity: r.Activity, seq: t.Seq, cause: cause, n: uint8(len(r.User))}
	copy(j.user[:], r.User)
	u.mu.RLock()
	queued := false
	if !u.closed {
		select {
		case u.jobs <- j:
			queued = true
		default:
		}
	}
	u.mu.RUnlock()
	if !queued {
		ctx, cancel := context.WithTimeout(context.Background(), u.timeout)
		_, _ = u.release(ctx, r.Activity.ID, r.User, t.Seq, cause)
		cancel()
	}
}

// Release gives back the unit of order activity:user:seq now, for a
// caller that waits for the answer (the admin release, a dead letter).
// ok is false when the unit was already back.
func (u *Units) Release(ctx context.Context, activity string, user []byte, seq int64, cause string) (ok bool, err error) {
	return u.release(ctx, activity, user, seq, cause)
}

func (u *Units) release(ctx context.Context, activity string, user []byte, seq int64, cause string) (bool, error) {
	ok, err := u.store.Release(ctx, activity, user, seq)
	if err != nil {
		stockReleaseFailures.WithLabelValues(activity, cause).Inc()
		u.log.Error("stock release failed; unit stays held", "activity", activity, "user", string(user), "seq", seq, "cause", cause, "err", err)
		return false, err
	}
	if ok {
		stockReleasesTotal.WithLabelValues(activity, cause).Inc()
	}
	return ok, nil
}

func (u *Units) work() {
	defer u.wg.Done()
	for j := range u.jobs {
		ctx, cancel := context.WithTimeout(u.ctx, u.timeout)
		_, _ = u.release(ctx, j.activity.ID, j.user[:j.n], j.seq, j.cause)
		cancel()
	}
}

// Close gives back what is queued, waiting at most one release timeout
// for it (the rest is cancelled and counted as failed), then stops the
// workers. Call it once no request can give back a unit any more.
func (u *Units) Close() error {
	u.mu.Lock()
	if u.closed {
		u.mu.Unlock()
		return nil
	}
	u.closed = true
	if u.jobs != nil {
		close(u.jobs)
	}
	u.mu.Unlock()
	done := make(chan struct{})
	go func() { u.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(u.timeout):
		u.cancel()
		<-done
	}
	u.cancel()
	return nil
}
