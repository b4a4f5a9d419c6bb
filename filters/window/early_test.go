package window_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/flashgate/flashgate/conf"
	_ "github.com/flashgate/flashgate/filters/window"
	"github.com/flashgate/flashgate/gateway"
)

// earlyRoutes has two purchase routes: one for both activities, one for
// "b" only, each with its own sale_window margin.
const earlyRoutes = `
activities:
  - {id: a, stock: 1, start: "2030-01-01T10:00:00Z"}
  - {id: b, stock: 1, start: "2030-01-01T10:00:00Z"}
  - {id: c, stock: 1, start: "2030-01-01T10:00:00Z"}
routes:
  - path: /buy/{activity}
    method: POST
    activities: [a, b]
    filters:
      - sale_window: {early: %s}
    action: {type: json, endpoint: activity_status}
  - path: /buy2/{activity}
    method: POST
    activities: [b]
    filters:
      - sale_window: {early: %s}
    action: {type: json, endpoint: activity_status}
`

// The build gives each activity the margin of the sale_window entries
// serving it, once; entries that disagree about one activity fail the
// build and `check` alike, naming the YAML path.
func TestEarlyResolvedPerActivity(t *testing.T) {
	tests := []struct {
		name         string
		first, other string
		want         map[string]time.Duration
		err          string
	}{
		{"agreeing entries", "30s", "30s", map[string]time.Duration{"a": 30 * time.Second, "b": 30 * time.Second, "c": 0}, ""},
		{"disagreeing entries", "30s", "10s", nil,
			`routes[1].filters[0].sale_window.early: is 10s but routes[0].filters[0].sale_window opens activity "b" 30s early; ` +
				`every sale_window serving an activity must agree, because its token and purchase path endpoints open with it`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := conf.Parse([]byte(fmt.Sprintf(earlyRoutes, tc.first, tc.other)))
			if err != nil {
				t.Fatal(err)
			}
			checkErr := gateway.Check(cfg)
			in, buildErr := gateway.Build(cfg, gateway.Deps{})
			if tc.err != "" {
				for what, err := range map[string]error{"check": checkErr, "build": buildErr} {
					if err == nil || !strings.Contains(err.Error(), tc.err) {
						t.Errorf("%s: got %v, want %s", what, err, tc.err)
					}
				}
				return
			}
			if checkErr != nil || buildErr != nil {
				t.Fatalf("check: %v; build: %v", checkErr, buildErr)
			}
			defer in.Close()
			for id, want := range tc.want {
				if got := in.Activities[id].Early; got != want {
					t.Errorf("activity %s: Early %s, want %s", id, got, want)
				}
			}
		})
	}
}
