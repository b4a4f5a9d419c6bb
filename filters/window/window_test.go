package window

import (
	"strings"
	"testing"
	"time"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/gateway"
	"github.com/flashgate/flashgate/internal/filtertest"
)

var t0 = time.Date(2030, 1, 1, 10, 0, 0, 0, time.UTC)

// acts are a morning and an evening window on one activity, an unbounded
// activity and one that only has an end.
func build(t testing.TB, early time.Duration) (gateway.Filter, []*gateway.Activity) {
	t.Helper()
	acts := []*gateway.Activity{
		gateway.NewActivity(0, conf.Activity{ID: "twice", Windows: []conf.Window{
			{Start: t0, End: t0.Add(time.Hour)},
			{Start: t0.Add(8 * time.Hour), End: t0.Add(9 * time.Hour)},
		}}),
		gateway.NewActivity(1, conf.Activity{ID: "always"}),
		gateway.NewActivity(2, conf.Activity{ID: "until", Windows: []conf.Window{{End: t0}}}),
	}
	for _, a := range acts {
		a.Early = early // as the build resolves it from Config.OpensEarly
	}
	return filtertest.Filter[gateway.Filter](t, filtertest.Env(acts...), "sale_window", filtertest.Settings(Config{Early: early})), acts
}

func TestWindows(t *testing.T) {
	f, acts := build(t, 0)
	tests := []struct {
		name     string
		act      int
		now      time.Time
		reason   string // "" = pass
		startsAt string
	}{
		{"before first", 0, t0.Add(-time.Minute), "not_started", "2030-01-01T10:00:00.000Z"},
		{"at start", 0, t0, "", ""},
		{"inside first", 0, t0.Add(30 * time.Minute), "", ""},
		{"at end is closed", 0, t0.Add(time.Hour), "not_started", "2030-01-01T18:00:00.000Z"},
		{"between windows", 0, t0.Add(4 * time.Hour), "not_started", "2030-01-01T18:00:00.000Z"},
		{"inside second", 0, t0.Add(8*time.Hour + time.Second), "", ""},
		{"after last", 0, t0.Add(10 * time.Hour), "ended", ""},
		{"unbounded", 1, t0, "", ""},
		{"end only, before", 2, t0.Add(-time.Second), "", ""},
		{"end only, after", 2, t0, "ended", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := f.Handle(filtertest.Request(acts[tc.act], "", tc.now))
			if err != nil {
				t.Fatal(err)
			}
			if tc.reason == "" {
				if v.Action != gateway.Continue {
					t.Fatalf("rejected with %s", v.Page.Reason)
				}
				return
			}
			if v.Action != gateway.Reject || v.Page.Reason != tc.reason {
				t.Fatalf("verdict %+v, want %s", v, tc.reason)
			}
			if tc.startsAt != "" && !strings.Contains(string(v.Page.JSON), `"starts_at":"`+tc.startsAt+`"`) {
				t.Errorf("JSON %s lacks starts_at %s", v.Page.JSON, tc.startsAt)
			}
		})
	}
}

// Early opens each window that much before its start, and only there:
// the end does not move, and the not_started page still counts down to
// the configured start.
func TestEarly(t *testing.T) {
	f, acts := build(t, 2*time.Second)
	for _, tc := range []struct {
		name   string
		now    time.Time
		reason string
	}{
		{"before the margin", t0.Add(-2*time.Second - time.Nanosecond), "not_started"},
		{"margin starts", t0.Add(-2 * time.Second), ""},
		{"within the margin", t0.Add(-time.Second), ""},
		{"just before the end", t0.Add(time.Hour - time.Second), ""},
		{"at the end", t0.Add(time.Hour), "not_started"},
		{"second window's margin", t0.Add(8*time.Hour - time.Second), ""},
	} {
		v, err := f.Handle(filtertest.Request(acts[0], "", tc.now))
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case tc.reason == "" && v.Action != gateway.Continue:
			t.Errorf("%s: rejected with %s", tc.name, v.Page.Reason)
		case tc.reason != "" && (v.Action != gateway.Reject || v.Page.Reason != tc.reason):
			t.Errorf("%s: verdict %+v, want %s", tc.name, v, tc.reason)
		}
	}
	v, _ := f.Handle(filtertest.Request(acts[0], "", t0.Add(-time.Minute)))
	if !strings.Contains(string(v.Page.JSON), `"starts_at":"2030-01-01T10:00:00.000Z"`) {
		t.Errorf("not_started JSON %s does not count down to the configured start", v.Page.JSON)
	}
}

func TestConfig(t *testing.T) {
	if got := filtertest.Check("sale_window", map[string]any{"early": "2m"}); got == nil || got.Error() != "sale_window.early: must be in 0..1m, got 2m0s" {
		t.Errorf("got %v", got)
	}
	if _, err := filtertest.Build(t, filtertest.Env(), "sale_window", nil); err == nil {
		t.Error("built without {activity}")
	}
}

// Twelve activities at once, each with its own windows.
func TestManyActivities(t *testing.T) {
	var acts []*gateway.Activity
	for i := 0; i < 12; i++ {
		acts = append(acts, gateway.NewActivity(i, conf.Activity{ID: "act" + string(rune('a'+i)), Windows: []conf.Window{
			{Start: t0.Add(time.Duration(i) * time.Hour), End: t0.Add(time.Duration(i)*time.Hour + 30*time.Minute)},
		}}))
	}
	env := filtertest.Env(acts...)
	f := filtertest.Filter[gateway.Filter](t, env, "sale_window", nil)
	now := t0.Add(5*time.Hour + 10*time.Minute)
	for i, a := range env.Activities {
		v, _ := f.Handle(filtertest.Request(a, "", now))
		want := gateway.Reject
		if i == 5 {
			want = gateway.Continue
		}
		if v.Action != want {
			t.Errorf("activity %d: action %d, want %d", i, v.Action, want)
		}
	}
}

func BenchmarkWindowPass(b *testing.B) {
	f, acts := build(b, 0)
	r := filtertest.Request(acts[0], "", t0.Add(time.Minute))
	b.ReportAllocs()
	for b.Loop() {
		_, _ = f.Handle(r)
	}
}

func BenchmarkWindowReject(b *testing.B) {
	f, acts := build(b, 0)
	r := filtertest.Request(acts[0], "", t0.Add(-time.Minute))
	b.ReportAllocs()
	for b.Loop() {
		_, _ = f.Handle(r)
	}
}
