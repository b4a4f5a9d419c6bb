package gateway

import (
	"time"

	"github.com/flashgate/flashgate/conf"
)

// Phase is where an activity stands in its sale windows.
type Phase uint8

const (
	// Open means a window is running: the sale accepts orders.
	Open Phase = iota
	// NotStarted means the next window is yet to come.
	NotStarted
	// Ended means every window is over.
	Ended
)

// Activity is a configured sale, resolved once at start-up.
type Activity struct {
	conf.Activity
	// IDBytes is ID as bytes, for building keys without conversion.
	IDBytes []byte
	// Index is the activity's position in the config, so filters can keep
	// per-activity state in a slice instead of a map.
	Index int
}

func newActivity(i int, c conf.Activity) *Activity {
	return &Activity{Activity: c, IDBytes: []byte(c.ID), Index: i}
}

// OpenWindow returns the window open at now; ok is false when none is.
// An activity without windows is always open, in a zero window.
func (a *Activity) OpenWindow(now time.Time) (w conf.Window, ok bool) {
	if len(a.Windows) == 0 {
		return conf.Window{}, true
	}
	for _, w := range a.Windows {
		if w.Contains(now) {
			return w, true
		}
	}
	return conf.Window{}, false
}

// PhaseAt reports the activity's phase at now and, when not Ended, the
// instant it next changes (zero when it never does).
func (a *Activity) PhaseAt(now time.Time) (Phase, time.Time) {
	if w, ok := a.OpenWindow(now); ok {
		return Open, w.End
	}
	var next time.Time
	for _, w := range a.Windows {
		started := w.Start.IsZero() || !now.Before(w.Start)
		if !started && (next.IsZero() || w.Start.Before(next)) {
			next = w.Start
		}
	}
	if !next.IsZero() {
		return NotStarted, next
	}
	return Ended, time.Time{}
}
