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
			// A reread copy moved nothing: it was ours when read, and a
			// touch since may have found another instance took it over.
			if !qs[i].Reread {
				mine.lost.Store(false)
			}
			continue
		}
		if _, done := f.doneThisRound[k]; done {
			continue // finished after a read of this round saw it pending: not again
		}
		it := &streamItem{q: qs[i]}
		f.owned[k] = it
		if it.q.Claimed && !it.q.Reread {
			f.st.takenOver.Add(1)
		}
		out = append(out, it)
	}
	f.doneThisRound = nil
	return out
}

func (f *Forwarder) disown(it *streamItem) {
	f.mu.Lock()
	k := itemKey(&it.q)
	if f.owned[k] == it {
		delete(f.owned, k)
		// Finished here (acked), not given up as taken over: an entry
		// another instance holds may come back by this round's own
		// XAUTOCLAIM, and is then this instance's to work on.
		if f.doneThisRound != nil && !it.lost.Load() {
			f.doneThisRound[k] = struct{}{}
		}
	}
	f.mu.Unlock()
}

// beginReads opens a round's reads: from now until ownAll, an entry this
// forwarder finishes is remembered, because a read of the round may have
// seen it still pending. XAUTOCLAIM returns this consumer's own entries
// when they look idle (its touches failed while Redis was away), and
// readOwn returns every own pending entry: one finished between such a
// reply and ownAll is no longer owned, and would be started again (and
// sent again: its ledger says it was claimed). A ">" read never returns
// an entry already delivered to anyone, so nothing else is skipped.
func (f *Forwarder) beginReads() {
	f.mu.Lock()
	f.doneThisRound = map[string]struct{}{}
	f.mu.Unlock()
}

// readOwn reads this consumer's own pending entries of Stream s again,
// page by page: those a failed read left there, beside the ones it works
// on (which ownAll skips, as it skips those finished meanwhile: see
// beginReads). The pages are bounded by what the consumer can hold: its
// owned entries (at most MaxInflight) and what failed reads delivered
// (each at most MaxInflight, and no read follows a failed reread, so a
// long outage leaves at most a few such reads).
func (f *Forwarder) readOwn(ctx context.Context, s shardRef) ([]stock.QueuedOrder, error) {
	var out []stock.QueuedOrder
	after := "0"
	page := 2 * f.cfg.MaxInflight
	for range 64 {
		qs, err := f.log.ReadOwnPending(ctx, s.activity, s.shard, f.cfg.Group, f.cfg.Consumer, after, page)
		if err != nil {
			return nil, err
		}
		out = append(out, qs...)
		if len(qs) < page {
			break
		}
		after = qs[len(qs)-1].ID
	}
	return out, nil
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

// handBackUnseen hands back, at a stop, the entries pending here on the
// Streams whose last read failed: entries Redis gave this consumer in a
// reply it never got, which would otherwise wait out ClaimIdle. Every
// delivery has ended by then, so nothing pending here is being worked on.
func (f *Forwarder) handBackUnseen(work context.Context, reread map[shardRef]bool) {
	for s := range reread {
		qs, err := f.readOwn(work, s)
		if err != nil || len(qs) == 0 {
			continue
		}
		ids := make([]string, len(qs))
		for i := range qs {
			ids[i] = qs[i].ID
		}
		if n, err := f.log.HandBack(work, s.activity, s.shard, f.cfg.Group, f.cfg.Consumer, ids); err == nil {
			f.st.handedBack.Add(uint64(n))
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
