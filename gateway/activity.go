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
	// Early is how long before each window opens the sale admits
	// purchases: the `early` of the sale_window entries serving the
	// activity, resolved once when the config is built (resolveEarly), so
	// that the purchase route, the purchase_path endpoint with the
	// hidden_path filter, and the order_token endpoint all open together.
	// A request let in early that got no path or token would be refused
	// further down the chain. Zero without a sale_window.
	Early time.Duration
}

func newActivity(i int, c conf.Activity) *Activity {
	return &Activity{Activity: c, IDBytes: []byte(c.ID), Index: i}
}

// Paused reports whether an operator stopped this activity's purchases.
func (a *Activity) Paused() bool { return a.override.Paused() }

// OverridesKnown reports whether the activity's pause and window
// overrides have been read (override.State.Known): until then its
// purchases fail closed.
func (a *Activity) OverridesKnown() bool { return a.override.Known() }

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
	return a.window(now, 0)
}

// SaleWindow is OpenWindow for a purchase: the configured window whose
// sale has opened at now, Early before its Start and until its End. The
// window is returned as configured (the hidden path's MAC and countdowns
// use its real Start).
func (a *Activity) SaleWindow(now time.Time) (w conf.Window, ok bool) {
	return a.window(now, a.Early)
}

func (a *Activity) window(now time.Time, early time.Duration) (conf.Window, bool) {
	ws := a.CurrentWindows()
	if len(ws) == 0 {
		return conf.Window{}, true
	}
	for _, w := range ws {
		if opened(w, now, early) && (w.End.IsZero() || now.Before(w.End)) {
			return w, true
		}
	}
	return conf.Window{}, false
}

// opened reports whether w's sale has opened at now, early before Start.
func opened(w conf.Window, now time.Time, early time.Duration) bool {
	return w.Start.IsZero() || !now.Before(w.Start.Add(-early))
}

// PhaseAt reports the activity's phase at now and, when not Ended, the
// instant it next changes (zero when it never does).
func (a *Activity) PhaseAt(now time.Time) (Phase, time.Time) {
	return a.phase(now, 0)
}

// Countdown is what a countdown shows at now: the phase, and when the
// next window starts (NotStarted) and when the running or next window
// ends (nil for an open side). The shoppers' status JSON and the admin
// API both show these, so they cannot disagree.
func (a *Activity) Countdown(now time.Time) (phase Phase, startsAt, endsAt *time.Time) {
	phase, next := a.PhaseAt(now)
	switch phase {
	case NotStarted:
		startsAt = &next
		for _, w := range a.CurrentWindows() {
			if w.Start.Equal(next) && !w.End.IsZero() {
				end := w.End
				endsAt = &end
			}
		}
	case Open:
		if !next.IsZero() {
			endsAt = &next
		}
	}
	return phase, startsAt, endsAt
}

// SalePhase is PhaseAt for a purchase, with each window opening Early
// before its Start. When NotStarted, the instant returned is still the
// window's configured Start: the countdown shoppers see.
func (a *Activity) SalePhase(now time.Time) (Phase, time.Time) {
	return a.phase(now, a.Early)
}

func (a *Activity) phase(now time.Time, early time.Duration) (Phase, time.Time) {
	if w, ok := a.window(now, early); ok {
		return Open, w.End
	}
	var next time.Time
	for _, w := range a.CurrentWindows() {
		if !opened(w, now, early) && (next.IsZero() || w.Start.Before(next)) {
			next = w.Start
		}
	}
	if !next.IsZero() {
		return NotStarted, next
	}
	return Ended, time.Time{}
}
