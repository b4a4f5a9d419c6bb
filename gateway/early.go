package gateway

import (
	"strings"
	"time"

	"github.com/flashgate/flashgate/conf"
)

// EarlyOpener is implemented by a filter config that opens the sale of
// the activities its route serves early (sale_window's `early`). The
// build gives each activity that margin once (Activity.Early), so every
// route and endpoint of the activity opens with it.
type EarlyOpener interface {
	OpensEarly() time.Duration
}

// earlySource is where an activity's early margin was set.
type earlySource struct {
	early time.Duration
	path  string
}

// resolveEarly returns the early margin of each activity, by id, from the
// EarlyOpener entries of the routes serving it. Entries serving one
// activity must agree: the token and purchase path endpoints cannot open
// at two instants.
func resolveEarly(cfg *conf.Config, routes []decodedRoute, errs *conf.Errors) map[string]time.Duration {
	all := make([]string, 0, len(cfg.Activities))
	for _, a := range cfg.Activities {
		all = append(all, a.ID)
	}
	by := map[string]earlySource{}
	for i, rc := range cfg.Routes {
		if i >= len(routes) || !strings.Contains(rc.Path, "{activity}") {
			continue // a filter needing {activity} reports its own error
		}
		ids := all
		if len(rc.Activities) > 0 {
			ids = rc.Activities
		}
		for _, d := range routes[i].filters {
			eo, ok := d.cfg.(EarlyOpener)
			if !ok {
				continue
			}
			e := eo.OpensEarly()
			for _, id := range ids {
				prev, seen := by[id]
				if !seen {
					by[id] = earlySource{e, d.path}
					continue
				}
				if prev.early != e {
					errs.Addf(conf.Join(d.path, "early"), "is %s but %s opens activity %q %s early; "+
						"every sale_window serving an activity must agree, because its token and purchase "+
						"path endpoints open with it", e, prev.path, id, prev.early)
					break // one error per entry
				}
			}
		}
	}
	out := make(map[string]time.Duration, len(by))
	for id, s := range by {
		out[id] = s.early
	}
	return out
}

// applyEarly sets each activity's resolved margin.
func applyEarly(acts []*Activity, early map[string]time.Duration) {
	for _, a := range acts {
		a.Early = early[a.ID]
	}
}
