// Package window is the `sale_window` filter: before an activity's window
// opens the request gets the "not started" page with the server's
// countdown target; after the last window it gets "ended". Several windows
// a day and many activities at once are decided from the clock alone.
package window

import (
	"errors"
	"sync/atomic"
	"time"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/gateway"
)

func init() {
	gateway.Register(gateway.Module{Name: "sale_window", Filters: []gateway.FilterInfo{
		{Type: "sale_window", New: func() gateway.FilterConfig { return &Config{} }},
	}})
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
		// Until the page of an operator's new window is rendered (at once,
		// off the request path), requests get this one without a countdown.
		p.notStartedAny, err = env.Page(gateway.PageSpec{Status: 403, Reason: "not_started", Kind: "not_started",
			Activity: a.ID, Message: "The sale has not started yet.", Extra: map[string]any{"activity": a.ID}})
		if err != nil {
			return nil, err
		}
		for _, w := range a.Windows {
			if w.Start.IsZero() {
				p.notStarted = append(p.notStarted, nil)
				continue
			}
			pg, err := env.Page(notStartedSpec(a, w.Start))
			if err != nil {
				return nil, err
			}
			p.notStarted = append(p.notStarted, pg)
		}
	}
	if env.Overrides != nil {
		render := func(a *gateway.Activity) {
			w, ok := a.Override().Window()
			if !ok || w.Start.IsZero() {
				f.acts[a.Index].override.Store(nil)
				return
			}
			pg, err := env.Pages.Get(notStartedSpec(a, w.Start))
			if err != nil {
				env.Logger.Error("sale_window: page of the overriding window", "activity", a.ID, "err", err)
				return
			}
			f.acts[a.Index].override.Store(&overridePage{start: w.Start, page: pg})
		}
		for _, a := range env.Activities {
			render(a) // an override that survived a reload
		}
		f.cancel = env.Overrides.OnChange(func(id string) {
			for _, a := range env.Activities {
				if a.ID == id {
					render(a)
				}
			}
		})
	}
	return f, nil
}

func notStartedSpec(a *gateway.Activity, start time.Time) gateway.PageSpec {
	return gateway.PageSpec{Status: 403, Reason: "not_started", Kind: "not_started",
		Activity: a.ID, StartsAt: start,
		Message: "The sale has not started yet.",
		Extra:   map[string]any{"activity": a.ID, "starts_at": start.UTC().Format(gateway.RFC3339Milli)}}
}

type pages struct {
	notStarted    []*gateway.Page // by window index
	notStartedAny *gateway.Page   // no countdown
	ended         *gateway.Page
	override      atomic.Pointer[overridePage]
}

// overridePage is the not-started page of an operator's window.
type overridePage struct {
	start time.Time
	page  *gateway.Page
}

type filter struct {
	acts   []pages // by Activity.Index
	cancel func()
}

// Close stops rendering pages for window overrides.
func (f *filter) Close() error {
	if f.cancel != nil {
		f.cancel()
	}
	return nil
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
	if a.Override().Windows() != nil {
		if ov := p.override.Load(); ov != nil && ov.start.Equal(next) {
			return gateway.RejectWith(ov.page), nil
		}
		return gateway.RejectWith(p.notStartedAny), nil
	}
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
