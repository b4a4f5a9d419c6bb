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

// PhaseAt reports the activity's phase at now and, when not Ended, the
// instant it next changes (zero when it never does).
func (a *Activity) PhaseAt(now time.Time) (Phase, time.Time) {
	if len(a.Windows) == 0 {
		return Open, time.Time{}
	}
	var next time.Time
	for _, w := range a.Windows {
		started := w.Start.IsZero() || !now.Before(w.Start)
		over := !w.End.IsZero() && !now.Before(w.End)
		if started && !over {
			return Open, w.End
		}
		if !started && (next.IsZero() || w.Start.Before(next)) {
			next = w.Start
		}
	}
	if !next.IsZero() {
		return NotStarted, next
	}
	return Ended, time.Time{}
}
