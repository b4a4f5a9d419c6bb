package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/override"
)

// The operator's steering calls: list, pause, resume, move a window.
// Overrides live in deps.Overrides (shared through Redis with the Redis
// store), outlive reloads and are shown beside the YAML's values.

// windowJSON is a window on the wire: RFC 3339, null for an open side.
type windowJSON struct {
	Start *Millis `json:"start"`
	End   *Millis `json:"end"`
}

func toWindowJSON(w conf.Window) windowJSON {
	var out windowJSON
	if !w.Start.IsZero() {
		s := Millis(w.Start)
		out.Start = &s
	}
	if !w.End.IsZero() {
		e := Millis(w.End)
		out.End = &e
	}
	return out
}

func windowsJSON(ws []conf.Window) []windowJSON {
	out := make([]windowJSON, 0, len(ws))
	for _, w := range ws {
		out = append(out, toWindowJSON(w))
	}
	return out
}

// activityView is one activity in GET /admin/activities.
type activityView struct {
	ID      string `json:"id"`
	Product string `json:"product"`
	Phase   string `json:"phase"`
	// StartsAt and EndsAt are the countdown's targets, as the shoppers'
	// status JSON shows them (null for none).
	StartsAt *Millis `json:"starts_at"`
	EndsAt   *Millis `json:"ends_at"`
	// Stock is the YAML's stock; Total, Left and Sold are the store's
	// numbers (absent while it cannot answer).
	Stock   int64  `json:"stock"`
	Total   *int64 `json:"total,omitempty"`
	Left    *int64 `json:"left,omitempty"`
	Sold    *int64 `json:"sold,omitempty"`
	SoldOut bool   `json:"sold_out"`
	// PayWithin, Held, Paid and ReleasedUnpaid are shown for a pay_within
	// activity only (the counts, like Total, while the store answers).
	PayWithin      *int64       `json:"pay_within_seconds,omitempty"`
	Held           *int64       `json:"held,omitempty"`
	Paid           *int64       `json:"paid,omitempty"`
	ReleasedUnpaid *int64       `json:"released_unpaid,omitempty"`
	Paused         bool         `json:"paused"`
	Windows        []windowJSON `json:"windows"`
	// Overrides are what operators changed on top of the YAML: empty
	// when the YAML's values are in force.
	Overrides overridesView `json:"overrides"`
}

type overridesView struct {
	Paused bool `json:"paused,omitempty"`
	// PausedHereOnly: the pause holds on this instance only, while the
	// shared store refuses it (override.ErrPausedLocally).
	PausedHereOnly bool        `json:"paused_here_only,omitempty"`
	Window         *windowJSON `json:"window,omitempty"`
	// Unread: this instance has not read the shared overrides yet
	// (started with Redis down), so a pause or window set in Redis may be
	// in force unseen; its purchases answer busy until it has.
	Unread bool `json:"unread,omitempty"`
}

func viewOf(ctx context.Context, a *Activity, deps Deps, now time.Time) activityView {
	phase, starts, ends := a.Countdown(now)
	v := activityView{ID: a.ID, Product: a.Product, Phase: PhaseName(phase), StartsAt: millisPtr(starts), EndsAt: millisPtr(ends),
		Stock: a.Stock, Paused: a.Paused(), Windows: windowsJSON(a.Windows)}
	if a.PayWithin > 0 {
		s := int64(a.PayWithin / time.Second)
		v.PayWithin = &s
	}
	v.Overrides.Paused = a.Paused()
	v.Overrides.PausedHereOnly = a.Override().PausedHereOnly()
	v.Overrides.Unread = !a.OverridesKnown()
	if w, ok := a.Override().Window(); ok {
		wj := toWindowJSON(w)
		v.Overrides.Window = &wj
	}
	if deps.Stock != nil {
		if c, err := deps.Stock.Counts(ctx, a.ID); err == nil {
			v.Total, v.Left, v.Sold = &c.Total, &c.Left, &c.Sold
			if a.PayWithin > 0 {
				v.Held, v.Paid, v.ReleasedUnpaid = &c.Held, &c.Paid, &c.ReleasedUnpaid
			}
		}
		v.SoldOut = deps.Stock.SoldOut(a.ID)
	}
	return v
}

func adminActivities(a *AdminCall) {
	ctx, cancel := adminCtx()
	defer cancel()
	now := time.Now()
	out := make([]activityView, 0, len(a.Instance.ActivityList))
	for _, act := range a.Instance.ActivityList {
		out = append(out, viewOf(ctx, act, a.Deps, now))
	}
	a.JSON(200, map[string]any{"server_time": Millis(now), "activities": out})
}

// lookupActivity finds the {id} of the call or answers 404.
func lookupActivity(a *AdminCall) *Activity {
	act := a.Instance.Activities[a.Param("id")]
	if act == nil {
		a.Error(404, "unknown_activity", "no activity "+strconv.Quote(a.Param("id"))+" in the running config")
	}
	return act
}

// answerActivity writes the activity as GET /admin/activities shows it.
func answerActivity(a *AdminCall, act *Activity) {
	ctx, cancel := adminCtx()
	defer cancel()
	a.JSON(200, viewOf(ctx, act, a.Deps, time.Now()))
}

func adminPause(paused bool) func(a *AdminCall) {
	return func(a *AdminCall) {
		act := lookupActivity(a)
		if act == nil {
			return
		}
		ctx, cancel := adminCtx()
		defer cancel()
		err := a.Deps.Overrides.SetPaused(ctx, act.ID, paused)
		switch {
		case errors.Is(err, override.ErrPausedLocally):
			// The brake holds here at once; the other instances get it
			// once Redis takes it (retried every poll).
			a.server.log.Warn("admin: pause held on this instance only: Redis did not take it; retrying until it does",
				"activity", act.ID, "err", err)
			a.JSON(202, viewOf(ctx, act, a.Deps, time.Now()))
			return
		case errors.Is(err, override.ErrResumedLocally):
			a.server.log.Warn("admin: resume lifted this instance's own pause; Redis did not answer, so a pause it holds still holds on the other instances, and on this one again once it reads it",
				"activity", act.ID, "err", err)
			a.JSON(202, viewOf(ctx, act, a.Deps, time.Now()))
			return
		case err != nil:
			a.Error(503, "store_unavailable", "the pause could not be shared with the other instances: "+err.Error())
			return
		}
		answerActivity(a, act)
	}
}

// adminSetWindow answers PUT /admin/activities/{id}/window with a body
// {"start": RFC 3339 or null, "end": RFC 3339 or null}: the window then
// replaces the YAML's windows until DELETE clears it.
func adminSetWindow(a *AdminCall) {
	act := lookupActivity(a)
	if act == nil {
		return
	}
	w, err := parseWindow(a.Ctx.PostBody())
	if err != nil {
		a.Error(400, "bad_window", err.Error())
		return
	}
	if a.Instance.windowUngated[act.ID] {
		a.Error(409, "no_sale_window", "a purchase route of activity "+strconv.Quote(act.ID)+" has no sale_window filter, so a window would not gate it: its purchases would go on. Add `- sale_window: {}` before stock, or pause it instead")
		return
	}
	ctx, cancel := adminCtx()
	defer cancel()
	if err := a.Deps.Overrides.SetWindow(ctx, act.ID, &w); err != nil {
		a.Error(503, "store_unavailable", "the window could not be shared with the other instances: "+err.Error())
		return
	}
	answerActivity(a, act)
}

func adminClearWindow(a *AdminCall) {
	act := lookupActivity(a)
	if act == nil {
		return
	}
	ctx, cancel := adminCtx()
	defer cancel()
	if err := a.Deps.Overrides.SetWindow(ctx, act.ID, nil); err != nil {
		a.Error(503, "store_unavailable", "the window could not be shared with the other instances: "+err.Error())
		return
	}
	answerActivity(a, act)
}

// parseWindow reads a window body strictly: a JSON object with only
// start and end, each an RFC 3339 time or null, at least one set, start
// before end.
func parseWindow(body []byte) (conf.Window, error) {
	var in struct {
		Start *string `json:"start"`
		End   *string `json:"end"`
	}
	if err := exactKeys(body, "start", "end"); err != nil {
		return conf.Window{}, err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		const want = `body must be a JSON object {"start": RFC 3339 or null, "end": RFC 3339 or null}`
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te) && te.Field != "":
			return conf.Window{}, errors.New(te.Field + ": must be an RFC 3339 time string or null, got a JSON " + te.Value)
		case errors.As(err, &te):
			return conf.Window{}, errors.New(want + ", got a JSON " + te.Value)
		}
		return conf.Window{}, errors.New(want + ": " + err.Error())
	}
	if dec.More() {
		return conf.Window{}, errors.New("body must hold one JSON object")
	}
	var w conf.Window
	for _, f := range []struct {
		name string
		in   *string
		out  *time.Time
	}{{"start", in.Start, &w.Start}, {"end", in.End, &w.End}} {
		if f.in == nil {
			continue
		}
		t, err := time.Parse(time.RFC3339, *f.in)
		if err != nil {
			return conf.Window{}, errors.New(f.name + ": must be an RFC 3339 time such as 2026-11-11T20:00:00+08:00, got " + strconv.Quote(*f.in))
		}
		*f.out = t
	}
	if err := override.Validate(w); err != nil {
		switch {
		case w.Start.IsZero() && w.End.IsZero():
			return conf.Window{}, errors.New("start or end is required")
		default:
			return conf.Window{}, errors.New("start must be before end")
		}
	}
	return w, nil
}

// exactKeys refuses an object that names a key twice, or a key that is
// not one of keys spelled exactly: encoding/json would keep the last of
// two silently and matches names in any case, so {"end": A, "End": B}
// would set end to B, and both are mistakes the caller should hear
// about. Other faults are left to the decode, which describes them.
func exactKeys(body []byte, keys ...string) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil
	}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		k, ok := t.(string)
		if err != nil || !ok {
			return nil
		}
		if !slices.Contains(keys, k) {
			return errors.New("body names " + strconv.Quote(k) + ": the only fields are " + strings.Join(keys, " and "))
		}
		if seen[k] {
			return errors.New("body names " + strconv.Quote(k) + " more than once")
		}
		seen[k] = true
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return nil
		}
	}
	return nil
}
