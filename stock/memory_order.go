package stock

// The memory store's side of async mode: the in-process queue
// (forward.Queue) asks, before each send, whether the order's unit is
// still held, as claim.lua does on Redis (doc.go, async mode).

// HeldChecker is a store that answers the in-process queue's held-mark
// check (the memory store). Every give-back of the memory store (Release,
// the unpaid sweep) drops the held unit under the user's ledger lock,
// which CheckOrder takes too, so a check after the give-back always sees
// it: an order whose unit came back is dropped, never sent again.
type HeldChecker interface {
	CheckOrder(activity, user string, seq int64) OrderCheck
}

var _ HeldChecker = (*memoryStore)(nil)

// CheckOrder reports what became of the unit of order (activity, user,
// seq): OrderDeliver while it is held (paid or not), OrderUnpaid once the
// sweeper gave it back at its deadline, OrderGone once anything else did,
// OrderReset when the activity was loaded again since (or is gone).
func (m *memoryStore) CheckOrder(activity, user string, seq int64) OrderCheck {
	a := m.get(activity)
	if a == nil {
		return OrderReset
	}
	if version, _ := splitSeq(seq); version != a.version {
		return OrderReset
	}
	l := &a.ledgers[hash(user)>>58]
	l.mu.Lock()
	defer l.mu.Unlock()
	u := l.users[user]
	if u == nil {
		return OrderGone
	}
	for _, hu := range u.held {
		if hu.seq == seq {
			return OrderDeliver
		}
	}
	for _, s := range u.unpaid {
		if s == seq {
			return OrderUnpaid
		}
	}
	return OrderGone
}
