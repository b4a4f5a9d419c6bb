package window

import (
	"context"
	"encoding/json"
	"io"
	"testing"
	"time"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/gateway"
	"github.com/flashgate/flashgate/internal/filtertest"
	"github.com/flashgate/flashgate/override"
)

// An operator's window replaces the YAML's: the filter decides by it, and
// its not-started page (rendered when the override is set, not per
// request) counts down to the new start. Clearing it restores the YAML.
func TestWindowOverride(t *testing.T) {
	store, a, f := overriddenFilter(t)
	ctx := context.Background()
	later := t0.Add(10 * time.Hour)
	if err := store.SetWindow(ctx, "sale", &conf.Window{Start: later}); err != nil {
		t.Fatal(err)
	}
	check := func(now time.Time, reason, startsAt string) {
		t.Helper()
		v, err := f.Handle(filtertest.Request(a, "", now))
		if err != nil {
			t.Fatal(err)
		}
		if reason == "" {
			if v.Action != gateway.Continue {
				t.Fatalf("at %s: rejected with %s, want pass", now, v.Page.Reason)
			}
			return
		}
		if v.Action != gateway.Reject || v.Page.Reason != reason {
			t.Fatalf("at %s: verdict %+v, want %s", now, v, reason)
		}
		var body map[string]any
		if err := json.Unmarshal(v.Page.JSON, &body); err != nil {
			t.Fatal(err)
		}
		if got, _ := body["starts_at"].(string); got != startsAt {
			t.Fatalf("at %s: starts_at %q, want %q", now, got, startsAt)
		}
	}
	check(t0.Add(30*time.Minute), "not_started", "2030-01-01T20:00:00.000Z") // inside the YAML's window, before the override's
	check(later.Add(time.Minute), "", "")                                    // the override has no end
	if err := store.SetWindow(ctx, "sale", nil); err != nil {
		t.Fatal(err)
	}
	check(t0.Add(30*time.Minute), "", "")
	check(t0.Add(-time.Minute), "not_started", "2030-01-01T10:00:00.000Z")
	check(t0.Add(2*time.Hour), "ended", "")

	// A closed filter (an old config generation) renders nothing more.
	if err := f.(io.Closer).Close(); err != nil {
		t.Fatal(err)
	}
	if err := store.SetWindow(ctx, "sale", &conf.Window{Start: later}); err != nil {
		t.Fatal(err)
	}
	check(t0.Add(30*time.Minute), "not_started", "")
}

// overriddenFilter is a sale_window filter over activity "sale" (open
// t0 to t0+1h in the YAML) whose window an operator can override in the
// returned in-memory store.
func overriddenFilter(t *testing.T) (*override.Store, *gateway.Activity, gateway.Filter) {
	t.Helper()
	store := override.NewMemory()
	a := gateway.NewActivity(0, conf.Activity{ID: "sale", Windows: []conf.Window{{Start: t0, End: t0.Add(time.Hour)}}}).
		WithOverride(store.State("sale"))
	env := filtertest.Env(a)
	env.Overrides = store
	return store, a, filtertest.Filter[gateway.Filter](t, env, "sale_window", nil)
}
