package filtertest_test

import (
	"strings"
	"testing"
	"time"

	_ "github.com/flashgate/flashgate/filters"
	"github.com/flashgate/flashgate/gateway"
	"github.com/flashgate/flashgate/internal/filtertest"
)

// TestSettings: zero fields are left out, so the defaults apply to them.
func TestSettings(t *testing.T) {
	type cfg struct {
		Rate    float64       `mapstructure:"rate"`
		Scope   string        `mapstructure:"scope"`
		Timeout time.Duration `mapstructure:"timeout"`
		hidden  int
	}
	got := filtertest.Settings(cfg{Rate: 2, Timeout: time.Second, hidden: 1})
	if len(got) != 2 || got["rate"] != 2.0 || got["timeout"] != time.Second {
		t.Fatalf("settings %v", got)
	}
}

// TestBuildsThroughRegistry: a filter is built from its registered
// defaults, and a bad entry reports its problems under its type.
func TestBuildsThroughRegistry(t *testing.T) {
	if err := filtertest.Check("rate_limit", nil); err == nil || !strings.HasPrefix(err.Error(), "rate_limit.rate: ") {
		t.Fatalf("Check: %v", err)
	}
	env := filtertest.Env(filtertest.Activities("act1")...)
	f := filtertest.Filter[gateway.Filter](t, env, "sale_window", nil)
	if reason, _ := filtertest.Outcome(t, f, filtertest.Request(env.Activities[0], "alice", filtertest.T0)); reason != "" {
		t.Fatalf("an activity without windows is open, got %q", reason)
	}
}
