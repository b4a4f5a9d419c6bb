// Package override holds what operators change during a sale on top of
// the YAML: an activity paused (the emergency brake) or its sale window
// moved. The YAML stays the source of the initial values; an override
// lasts, across reloads, until an operator clears it.
//
// With a Redis-backed gateway the overrides live in one Redis hash that
// every instance polls, so a pause made on one instance reaches all of
// them within a second; with the memory store they are local.
//
// The request path reads one atomic per check (State.Paused,
// State.Windows): no lock, no allocation.
package override

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/flashgate/flashgate/conf"
)

// State is the override of one activity. Its pointer is stable for the
// life of the Store, so an activity resolves it once at build time and a
// reload finds the same one.
type State struct {
	paused atomic.Bool
	// local is a pause this instance holds on its own while the shared
	// store refuses it (SetPaused: ErrPausedLocally) or lost it (apply),
	// retried every Poll. localBase is the shared decision count this
	// instance had read when it took it (-1: none read yet): a decision
	// recorded since, on any instance, counts higher and wins over it. A count kept by Redis, not a clock, so the
	// instances' clocks need not agree.
	local     atomic.Bool
	localBase atomic.Int64
	// seen is the shared decision count of the last read (-1: none yet).
	seen   atomic.Int64
	window atomic.Pointer[[]conf.Window] // nil: the YAML's windows
	// The window override's own decision count, as for pauses: wseen is
	// the count of the last read (-1: none yet); windowHeld is a window
	// Redis lost (it counted fewer decisions than wseen), kept here and
	// shared again every Poll, until then or until a decision recorded
	// since (a count above windowBase, the one it was found lost at).
	wseen      atomic.Int64
	windowHeld atomic.Bool
	windowBase atomic.Int64
	// known is the shared store's "read once" flag (nil for a local
	// store): see Known.
	known *atomic.Bool
}

// Known reports whether this instance knows the activity's overrides:
// always with a local store; with a shared one once a read of Redis has
// been applied. A gateway started while Redis was down does not know
// whether an operator paused the sale or ended it early, so its
// purchases fail closed (busy) until the first read, however soon
// Redis answers the stock calls.
func (s *State) Known() bool { return s == nil || s.known == nil || s.known.Load() }

// Paused reports whether purchases of the activity are stopped.
func (s *State) Paused() bool { return s != nil && (s.paused.Load() || s.local.Load()) }

// PausedHereOnly reports a pause this instance holds on its own, not yet
// taken by the shared store (whatever its last read said).
func (s *State) PausedHereOnly() bool { return s != nil && s.local.Load() }

// Windows returns the windows that replace the YAML's, or nil.
func (s *State) Windows() []conf.Window {
	if s == nil {
		return nil
	}
	if w := s.window.Load(); w != nil {
		return *w
	}
	return nil
}

// Window returns the overriding window and whether there is one.
func (s *State) Window() (conf.Window, bool) {
	if ws := s.Windows(); len(ws) == 1 {
		return ws[0], true
	}
	return conf.Window{}, false
}

// windowIs reports whether the window override in force is w (nil: none).
func (s *State) windowIs(w *conf.Window) bool {
	cur, ok := s.Window()
	if w == nil {
		return !ok
	}
	return ok && cur.Start.Equal(w.Start) && cur.End.Equal(w.End)
}

func (s *State) setWindow(w *conf.Window) bool {
	old := s.window.Load()
	if w == nil {
		return s.window.Swap(nil) != nil
	}
	if old != nil && len(*old) == 1 && (*old)[0].Start.Equal(w.Start) && (*old)[0].End.Equal(w.End) {
		return false
	}
	ws := []conf.Window{*w}
	s.window.Store(&ws)
	return true
}

// ErrBadWindow means a window override has its end before its start, or
// no bound at all.
var ErrBadWindow = errors.New("override: window needs start or end, and start before end")

// Validate checks a window override.
func Validate(w conf.Window) error {
	if w.Start.IsZero() && w.End.IsZero() {
		return ErrBadWindow
	}
	if !w.Start.IsZero() && !w.End.IsZero() && !w.Start.Before(w.End) {
		return ErrBadWindow
	}
	return nil
}

// ErrPausedLocally means a pause stops this instance's purchases at once
// but could not be shared with the other instances (Redis refused it or
// did not answer). The brake must work when the shared store does not,
// so it holds here, and every Poll tries to share it until Redis takes
// it or a resume lifts it.
var ErrPausedLocally = errors.New("override: paused on this instance only; sharing the pause is retried until Redis takes it")

// ErrResumedLocally means a resume lifted the pause this instance held on
// its own, but Redis did not answer: a pause that did reach it (its write
// timed out after Redis took it) still holds on the other instances.
var ErrResumedLocally = errors.New("override: the pause held on this instance is lifted; Redis did not answer, so a pause it holds still holds on the other instances, and on this one again once it reads it")

// backend is where overrides are shared: nil for the memory store.
type backend interface {
	// Every write returns the decision count Redis then holds (n): the
	// instance knows at once that Redis counts at least that many, so a
	// read showing fewer says Redis lost this very write.
	setPaused(ctx context.Context, id string, paused bool) (n int64, err error)
	// sharePaused writes a pause held since the shared decision count
	// was base, unless a decision was recorded since (base -1: unknown,
	// share it); ok false means one was.
	sharePaused(ctx context.Context, id string, base int64) (ok bool, n int64, err error)
	setWindow(ctx context.Context, id string, w *conf.Window) (n int64, err error)
	// shareWindow writes back window w (nil: none), which Redis lost when
	// its window decision count was base, unless a decision was recorded
	// since; ok false means one was.
	shareWindow(ctx context.Context, id string, w *conf.Window, base int64) (ok bool, n int64, err error)
	close()
}

// Store holds every activity's override.
type Store struct {
	mu        sync.Mutex
	states    map[string]*State
	listeners map[int]func(id string)
	nextID    int
	be        backend
	// pauseMu orders SetPaused against the retries of a local pause, so
	// a retry never shares a pause that a resume has lifted.
	pauseMu sync.Mutex
	// readOnce: a read of the shared store has been applied.
	readOnce atomic.Bool
	// gen counts local writes, so a poll that read Redis before a write
	// does not undo it locally (the next poll brings the truth).
	gen atomic.Uint64
}

// NewMemory returns a Store whose overrides are local to this process.
func NewMemory() *Store {
	return &Store{states: map[string]*State{}, listeners: map[int]func(string){}}
}

// State returns the override state of activity id, creating it empty.
// Call it at build time, never per request.
func (s *Store) State(id string) *State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stateLocked(id)
}

func (s *Store) stateLocked(id string) *State {
	st := s.states[id]
	if st == nil {
		st = &State{}
		// An id missing from every read so far has had no decision
		// recorded; before the first read nothing is known.
		st.seen.Store(-1)
		st.wseen.Store(-1)
		if s.be != nil {
			st.known = &s.readOnce
		}
		if s.readOnce.Load() {
			st.seen.Store(0)
			st.wseen.Store(0)
		}
		s.states[id] = st
	}
	return st
}

// OnChange calls f (off the request path) with an activity id whose
// window override changed, so a filter can render pages for the new
// window before requests need them. cancel removes f.
func (s *Store) OnChange(f func(id string)) (cancel func()) {
	s.mu.Lock()
	id := s.nextID
	s.nextID++
	s.listeners[id] = f
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		delete(s.listeners, id)
		s.mu.Unlock()
	}
}

func (s *Store) notify(id string) {
	s.mu.Lock()
	fs := make([]func(string), 0, len(s.listeners))
	for _, f := range s.listeners {
		fs = append(fs, f)
	}
	s.mu.Unlock()
	for _, f := range fs {
		f(id)
	}
}

// SetPaused pauses or resumes activity id, on every instance when the
// store is shared.
// A pause the shared store refuses still stops this instance
// (ErrPausedLocally). A resume the shared store refuses lifts only a
// pause this instance held on its own (nil then: nothing was shared), and
// otherwise fails with nothing changed.
func (s *Store) SetPaused(ctx context.Context, id string, paused bool) error {
	st := s.State(id)
	s.pauseMu.Lock()
	defer s.pauseMu.Unlock()
	if s.be != nil {
		n, err := s.be.setPaused(ctx, id, paused)
		if err != nil {
			if paused {
				st.localBase.Store(st.seen.Load())
				st.local.Store(true)
				return fmt.Errorf("%w: %v", ErrPausedLocally, err)
			}
			if st.local.Load() && !st.paused.Load() {
				st.local.Store(false)
				return fmt.Errorf("%w: %v", ErrResumedLocally, err)
			}
			return err // a shared pause needs Redis to resume: nothing changed
		}
		st.seen.Store(n)
	}
	s.gen.Add(1)
	st.paused.Store(paused)
	st.local.Store(false)
	return nil
}

// SetWindow replaces activity id's YAML windows with w; nil clears the
// override. w must pass Validate.
func (s *Store) SetWindow(ctx context.Context, id string, w *conf.Window) error {
	if w != nil {
		if err := Validate(*w); err != nil {
			return err
		}
	}
	st := s.State(id)
	s.pauseMu.Lock() // ordered with apply, which also writes the window and its count
	if s.be != nil {
		n, err := s.be.setWindow(ctx, id, w)
		if err != nil {
			s.pauseMu.Unlock()
			return err
		}
		st.wseen.Store(n)
	}
	s.gen.Add(1)
	st.windowHeld.Store(false) // an operator's decision, recorded: it stands
	changed := st.setWindow(w)
	s.pauseMu.Unlock()
	if changed {
		s.notify(id) // outside the lock: listeners render pages
	}
	return nil
}

// Entry is one activity's overrides, for the admin API.
type Entry struct {
	ID     string
	Paused bool
	// decided counts the shared pause and resume decisions, read from
	// Redis: one recorded after a local pause was taken wins over it.
	// wdecided counts the window decisions (set, clear) alike.
	decided, wdecided int64
	// HereOnly: the pause holds on this instance only (ErrPausedLocally).
	HereOnly bool
	Window   *conf.Window
}

// List returns every activity that has an override, sorted by id.
func (s *Store) List() []Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Entry
	for id, st := range s.states {
		e := Entry{ID: id, Paused: st.Paused(), HereOnly: st.PausedHereOnly()}
		if w, ok := st.Window(); ok {
			e.Window = &w
		}
		if e.Paused || e.Window != nil {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Close stops sharing; the states keep their last values.
func (s *Store) Close() error {
	if s.be != nil {
		s.be.close()
	}
	return nil
}
