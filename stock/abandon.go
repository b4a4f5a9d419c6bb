package stock

import (
	"context"
	"sync"
	"time"

	"github.com/redis/rueidis"
)

const (
	// maxUnresolved bounds the queue of unknown outcomes. It fills only
	// while Redis is unreachable for longer than SettleTimeout, and
	// MaxSettling already limits how many Takes per SettleTimeout can end
	// up there.
	maxUnresolved = 1 << 16
	// abandonBatch bounds how many entries one sync pass works.
	abandonBatch = 256
)

// fenceKeep is how long abandon.lua keeps a fence. A fence must outlive
// any late delivery of the take.lua it stops; a script written to a socket
// reaches Redis when Redis reads again or, on a broken path, when TCP gives
// up retransmitting (about 15 minutes with Linux defaults). An hour covers
// both with room; fences are few (one per unknown outcome).
func fenceKeep(o RedisOptions) time.Duration {
	return max(time.Hour, 2*o.SettleTimeout, 2*o.PendingAge)
}

// abandonEntry is a Take whose outcome nobody knows: the attempt id lets
// abandon.lua find, or fence, what take.lua did with it.
type abandonEntry struct {
	a       *redisAct // the spec the Take ran with; a newer load drops it
	user    string
	attempt string
}

// abandonQueue holds unknown outcomes until abandon.lua settles them.
type abandonQueue struct {
	mu sync.Mutex
	q  []abandonEntry
}

func (q *abandonQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.q)
}

// take removes and returns up to n entries from the front.
func (q *abandonQueue) take(n int) []abandonEntry {
	q.mu.Lock()
	defer q.mu.Unlock()
	n = min(n, len(q.q))
	out := append([]abandonEntry(nil), q.q[:n]...)
	q.q = append(q.q[:0], q.q[n:]...)
	return out
}

// putBack returns unworked entries to the front and failed to the back, so
// that one entry that keeps failing cannot stall the others.
func (q *abandonQueue) putBack(unworked []abandonEntry, failed abandonEntry) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.q = append(append(append(make([]abandonEntry, 0, len(unworked)+len(q.q)+1), unworked...), q.q...), failed)
}

// drain empties the queue and returns how many entries it held.
func (q *abandonQueue) drain() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := len(q.q)
	q.q = nil
	return n
}

// push queues an unknown outcome for abandon.lua, or counts it lost when
// the queue is full or the store closed.
func (q *abandonQueue) push(r *RedisStore, e abandonEntry) {
	q.mu.Lock()
	ok := len(q.q) < maxUnresolved && !r.closed.Load()
	if ok {
		q.q = append(q.q, e)
	}
	q.mu.Unlock()
	if !ok {
		r.stats.lost.Add(1)
	}
}

// settleAbandoned works the queue: the sync loop calls it every pass. It
// stops at the first failure, as Redis is most likely still away.
func (r *RedisStore) settleAbandoned(ctx context.Context) {
	batch := r.queue.take(abandonBatch)
	for i, e := range batch {
		admitted, err := r.abandon(ctx, e)
		if err != nil {
			r.queue.putBack(batch[i+1:], e)
			return
		}
		if admitted {
			r.stats.compensated.Add(1)
		}
	}
	if len(batch) == abandonBatch {
		r.wake() // more to do: another pass now
	}
}

// abandon settles one unknown outcome on the user's home shard: a unit the
// attempt holds is given back as Release does (reporting true), a pending
// borrow is resolved as Reconcile does and then given back or rolled back,
// and an attempt that has not reached Redis yet is fenced so that its
// take.lua, should it still arrive, does nothing.
func (r *RedisStore) abandon(ctx context.Context, e abandonEntry) (bool, error) {
	a := e.a
	h := homeShard(e.user, a.shards)
	args := []string{a.verStr, e.user, e.attempt, r.fenceKeep}
	for range 2 { // pending, resolved, then held or rolled back
		cctx, cancel := context.WithTimeout(ctx, r.timeout)
		res, err := abandonScript.Exec(cctx, r.bg, a.keys[h], args).ToArray()
		cancel()
		if err != nil {
			return false, unavailable("abandon", err)
		}
		code, id, t, ok := parseAbandon(res)
		switch {
		case !ok:
			return false, unavailable("abandon", errReply)
		case code == abandonHeld:
			if t < 0 || t >= a.shards {
				return false, unavailable("abandon", errReply)
			}
			return r.giveBack(ctx, a, h, t, id, e.user, e.attempt)
		case code == abandonPending:
			if err := r.resolve(ctx, a, h, id); err != nil {
				return false, err
			}
		case code == claimFrozen: // a Warm's check: settle it on a later pass
			return false, unavailable("abandon", errFrozen)
		default: // fenced, nothing left, or another load: nothing to undo
			return false, nil
		}
	}
	return false, unavailable("abandon", errLostMark)
}

// parseAbandon reads abandon.lua's reply: {code}, {code, id} or
// {code, id, t}.
func parseAbandon(res []rueidis.RedisMessage) (code int64, id string, t int, ok bool) {
	if len(res) == 0 {
		return 0, "", 0, false
	}
	code, err := res[0].AsInt64()
	if err != nil {
		return 0, "", 0, false
	}
	switch code {
	case abandonHeld, abandonPending:
		if len(res) < 2 {
			return 0, "", 0, false
		}
		if id, err = res[1].ToString(); err != nil {
			return 0, "", 0, false
		}
	}
	if code == abandonHeld {
		if len(res) < 3 {
			return 0, "", 0, false
		}
		n, err := res[2].AsInt64()
		if err != nil {
			return 0, "", 0, false
		}
		t = int(n)
	}
	return code, id, t, true
}
