package forward

import (
	"context"
	"strconv"

	"github.com/flashgate/flashgate/stock"
)

// Which entries a Forwarder holds, and keeping them its own: read
// entries are owned (and touched every ClaimIdle/3, so no other instance
// takes them over) until they are finished, handed back at a stop, or
// found taken over.

func itemKey(q *stock.QueuedOrder) string {
	return q.Activity + "/" + strconv.Itoa(q.Shard) + "/" + q.ID
}

// ownAll marks the entries read as owned (touched from now on) and
// appends their items to out. An entry this forwarder already works on
// is skipped: XAUTOCLAIM also returns a consumer's own entries when they
// look idle (its touches failed while Redis was away), and a second
// goroutine would send the order again. Entries claimed from another
// consumer count as taken over.
func (f *Forwarder) ownAll(qs []stock.QueuedOrder, out []*streamItem) []*streamItem {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range qs {
		k := itemKey(&qs[i])
		if mine, ok := f.owned[k]; ok {
			// Ours again in Redis (XAUTOCLAIM moved it back to this
			// consumer): a goroutine told it was lost may go on with it.
			mine.lost.Store(false)
			continue
		}
		it := &streamItem{q: qs[i]}
		f.owned[k] = it
		if it.q.Claimed {
			f.st.takenOver.Add(1)
		}
		out = append(out, it)
	}
	return out
}

func (f *Forwarder) disown(it *streamItem) {
	f.mu.Lock()
	if f.owned[itemKey(&it.q)] == it {
		delete(f.owned, itemKey(&it.q))
	}
	f.mu.Unlock()
}

// touchLoop keeps every owned entry fresh, every ClaimIdle/3, and marks
// those another instance took over meanwhile.
func (f *Forwarder) touchLoop(ctx context.Context) {
	for sleep(ctx, f.cfg.ClaimIdle/3) == nil {
		groups := map[shardRef][]*streamItem{}
		f.mu.Lock()
		for _, it := range f.owned {
			k := shardRef{it.q.Activity, it.q.Shard}
			groups[k] = append(groups[k], it)
		}
		f.mu.Unlock()
		for k, its := range groups {
			ids := make([]string, len(its))
			for i, it := range its {
				ids[i] = it.q.ID
			}
			lost, err := f.log.Touch(ctx, k.activity, k.shard, f.cfg.Group, f.cfg.Consumer, ids)
			if err != nil {
				continue
			}
			for _, id := range lost {
				for _, it := range its {
					if it.q.ID == id {
						it.lost.Store(true)
					}
				}
			}
		}
	}
}

// handBack gives the orders a stopping forwarder did not finish to the
// next instance that scans, by shard; an order handed back may have been
// sent (a retry waiting), so its next send counts as claimed_from_dead.
func (f *Forwarder) handBack(work context.Context, left []*streamItem) {
	by := map[shardRef][]string{}
	for _, it := range left {
		k := shardRef{it.q.Activity, it.q.Shard}
		by[k] = append(by[k], it.q.ID)
	}
	for k, ids := range by {
		if n, err := f.log.HandBack(work, k.activity, k.shard, f.cfg.Group, f.cfg.Consumer, ids); err == nil {
			f.st.handedBack.Add(uint64(n))
		}
	}
}
