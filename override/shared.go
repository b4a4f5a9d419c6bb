package override

import (
	"context"
	"sort"

	"github.com/flashgate/flashgate/conf"
)

// How this instance's view and Redis's are kept one: apply takes in each
// read (and keeps what Redis lost), shareLocal and shareWindows write
// back what this instance holds that Redis does not.

// idsWhere lists, sorted, the activities whose state holds something
// still to share (a pause held here, a window Redis lost).
func (s *Store) idsWhere(held func(*State) bool) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for id, st := range s.states {
		if held(st) {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// apply makes the local states match a snapshot read from the shared
// store at generation gen; a snapshot older than a local write is
// dropped. It returns the activities whose shared pause it turned on or
// off (another instance), and those whose shared pause or window Redis
// lost, which it keeps, for the log.
//
// Redis can lose what it held (restarted without persistence, a failover
// to a replica that lagged): then it holds fewer decisions than this
// instance read. A pause missing with them was not lifted by anyone, so
// it stays on, held here and shared again like a pause taken while Redis
// was down; only a decision recorded later, which counts higher than the
// one the pause was held at, lifts it. An operator's brake is never
// released by a loss, nor is a window override undone (a sale an
// operator ended early would open again): windows count their own
// decisions and are kept and written back the same way.
func (s *Store) apply(gen uint64, snap map[string]Entry) (r applied) {
	s.pauseMu.Lock() // a local pause is shared, dropped or kept in one order with this
	defer s.pauseMu.Unlock()
	if s.gen.Load() != gen {
		return r
	}
	var changed []string
	s.mu.Lock()
	for id := range snap {
		s.stateLocked(id)
	}
	for id, st := range s.states {
		e := snap[id]
		before := st.Paused()
		if lost := e.decided < st.seen.Load(); lost && st.paused.Load() && !e.Paused && !st.local.Load() {
			st.local.Store(true)
			st.localBase.Store(e.decided)
			r.keptPauses = append(r.keptPauses, id)
		}
		if base := st.localBase.Load(); st.local.Load() && base >= 0 && e.decided > base {
			st.local.Store(false) // an operator decided since, on another instance (or this one's write landed): that stands
		}
		st.seen.Store(e.decided)
		st.paused.Store(e.Paused)
		if after := st.Paused(); after != before {
			if after {
				r.paused = append(r.paused, id)
			} else {
				r.resumed = append(r.resumed, id)
			}
		}
		// A window override Redis lost is kept, the same way.
		// Redis may keep an older window with the lower count (a failover
		// that lost the last decision): what this instance last knew is
		// kept, a window or none.
		if lost := e.wdecided < st.wseen.Load(); lost && !st.windowHeld.Load() && !st.windowIs(e.Window) {
			st.windowHeld.Store(true)
			st.windowBase.Store(e.wdecided)
			r.keptWindows = append(r.keptWindows, id)
		}
		if st.windowHeld.Load() && e.wdecided > st.windowBase.Load() {
			st.windowHeld.Store(false) // a window decision since: it stands
		}
		st.wseen.Store(e.wdecided)
		if !st.windowHeld.Load() && st.setWindow(e.Window) {
			changed = append(changed, id)
		}
	}
	s.readOnce.Store(true)
	s.mu.Unlock()
	for _, id := range changed {
		s.notify(id)
	}
	sort.Strings(r.paused)
	sort.Strings(r.resumed)
	sort.Strings(r.keptPauses)
	sort.Strings(r.keptWindows)
	return r
}

// applied is what a read changed, for the log: pauses turned on or off
// by another instance, and the pauses and windows Redis lost, kept here.
type applied struct {
	paused, resumed, keptPauses, keptWindows []string
}

// shareLocal tries to share every pause held on this instance only; one
// Redis takes becomes an ordinary shared pause, and one over which Redis
// holds a later decision is dropped. It reports the ids of each.
func (s *Store) shareLocal(ctx context.Context) (shared, superseded []string) {
	for _, id := range s.idsWhere(func(st *State) bool { return st.local.Load() }) {
		st := s.State(id)
		s.pauseMu.Lock()
		if st.local.Load() {
			switch ok, n, err := s.be.sharePaused(ctx, id, st.localBase.Load()); {
			case err != nil: // tried again next poll
			case ok:
				s.gen.Add(1)
				st.seen.Store(n)
				st.paused.Store(true)
				st.local.Store(false)
				shared = append(shared, id)
			default:
				st.local.Store(false)
				superseded = append(superseded, id)
			}
		}
		s.pauseMu.Unlock()
	}
	return shared, superseded
}

// shareWindows writes back every window override Redis lost; it reports
// the ids written back and those over which Redis holds a later
// decision (dropped: that decision applies at the next read).
func (s *Store) shareWindows(ctx context.Context) (shared, superseded []string) {
	for _, id := range s.idsWhere(func(st *State) bool { return st.windowHeld.Load() }) {
		st := s.State(id)
		s.pauseMu.Lock()   // ordered against apply, as for pauses
		var w *conf.Window // what this instance knows: a window, or none
		if cur, ok := st.Window(); ok {
			w = &cur
		}
		if st.windowHeld.Load() {
			switch done, n, err := s.be.shareWindow(ctx, id, w, st.windowBase.Load()); {
			case err != nil: // tried again next poll
			case done:
				st.wseen.Store(n)
				st.windowHeld.Store(false)
				shared = append(shared, id)
			default:
				st.windowHeld.Store(false)
				superseded = append(superseded, id)
			}
		}
		s.pauseMu.Unlock()
	}
	return shared, superseded
}
