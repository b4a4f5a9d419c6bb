package gateway

import (
	"time"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/override"
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
	// override is what operators changed on top of the YAML (pause,
	// window), resolved once at build time; it outlives reloads.
	override *override.State
}

func newActivity(i int, c conf.Activity) *Activity {
	return &Activity{Activity: c, IDBytes: []byte(c.ID), Index: i}
}

// Paused reports whether an operator stopped this activity's purchases.
func (a *Activity) Paused() bool { return a.override.Paused() }

// Override is the activity's operator overrides (nil for an activity
// built by hand in a test).
func (a *Activity) Override() *override.State { return a.override }

// CurrentWindows are the windows in force: an operator's window override
// when there is one, the YAML's otherwise.
func (a *Activity) CurrentWindows() []conf.Window {
	if ws := a.override.Windows(); ws != nil {
		return ws
	}
	return a.Windows
}

// OpenWindow returns the window open at now; ok is false when none is.
// An activity without windows is always open, in a zero window.
func (a *Activity) OpenWindow(now time.Time) (w conf.Window, ok bool) {
	ws := a.CurrentWindows()
	if len(ws) == 0 {
		return conf.Window{}, true
	}
	for _, w := range ws {
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
	for _, w := range a.CurrentWindows() {
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
