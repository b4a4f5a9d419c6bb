// Package window is the `sale_window` filter: before an activity's window
// opens the request gets the "not started" page with the server's
// countdown target; after the last window it gets "ended". Several windows
// a day and many activities at once are decided from the clock alone.
package window

import (
	"errors"
	"time"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/gateway"
)

func init() {
	gateway.RegisterFilter(gateway.FilterInfo{
		Type: "sale_window",
		New:  func() gateway.FilterConfig { return &Config{} },
	})
}

// Config is the settings block of a sale_window entry. The windows come
// from each activity's start/end or windows in the activities section.
type Config struct {
	// Early lets requests in this long before a window opens, to absorb
	// clock skew between the gateway and the shop. It opens the activity's
	// sale, not just this filter: the build gives every activity the route
	// serves this margin (gateway.Activity.Early), so the purchase_path
	// and order_token endpoints and the hidden_path filter open with it.
	// Entries serving one activity must agree. Default 0.
	Early time.Duration `mapstructure:"early"`
}

// OpensEarly is the margin the build gives the route's activities.
func (c *Config) OpensEarly() time.Duration { return c.Early }

// Validate checks the settings.
func (c *Config) Validate(at conf.At) {
	if c.Early < 0 || c.Early > time.Minute {
		at.Addf("early", "must be in 0..1m, got %s", c.Early)
	}
}

// Build pre-renders a not-started page per window and one ended page per
// activity, so turning a request away renders nothing.
func (c *Config) Build(env *gateway.Env) (gateway.Filter, error) {
	if len(env.Activities) == 0 {
		return nil, errors.New("sale_window needs a route path with {activity}")
	}
	f := &filter{acts: make([]pages, len(env.AllActivities))}
	for _, a := range env.Activities {
		p := &f.acts[a.Index]
		var err error
		p.ended, err = env.Page(gateway.PageSpec{Status: 410, Reason: "ended", Kind: "ended", Activity: a.ID,
			Message: "This sale has ended."})
		if err != nil {
			return nil, err
		}
		for _, w := range a.Windows {
			if w.Start.IsZero() {
				p.notStarted = append(p.notStarted, nil)
				continue
			}
			pg, err := env.Page(gateway.PageSpec{Status: 403, Reason: "not_started", Kind: "not_started",
				Activity: a.ID, StartsAt: w.Start,
				Message: "The sale has not started yet.",
				Extra:   map[string]any{"activity": a.ID, "starts_at": w.Start.UTC().Format(time.RFC3339)}})
			if err != nil {
				return nil, err
			}
			p.notStarted = append(p.notStarted, pg)
		}
	}
	return f, nil
}

type pages struct {
	notStarted []*gateway.Page // by window index
	ended      *gateway.Page
}

type filter struct {
	acts []pages // by Activity.Index
}

// Handle lets the request through while a window's sale is open (from
// Early before its start, see Config.Early).
func (f *filter) Handle(r *gateway.Request) (gateway.Verdict, error) {
	a := r.Activity
	phase, next := a.SalePhase(r.Now)
	switch phase {
	case gateway.Open:
		return gateway.Pass, nil
	case gateway.Ended:
		return gateway.RejectWith(f.acts[a.Index].ended), nil
	}
	p := &f.acts[a.Index]
	for i, w := range a.Windows {
		if w.Start.Equal(next) && p.notStarted[i] != nil {
			return gateway.RejectWith(p.notStarted[i]), nil
		}
	}
	return gateway.RejectWith(p.ended), nil
}

var (
	_ gateway.FilterConfig = (*Config)(nil)
	_ gateway.EarlyOpener  = (*Config)(nil)
	_ gateway.Filter       = (*filter)(nil)
)
