package gateway

import (
	"testing"
	"time"

	"github.com/flashgate/flashgate/internal/redistest"
	"github.com/flashgate/flashgate/override"
)

// TestAdminPauseWithRedisDown: the emergency brake works when Redis does
// not: the pause answers 202 with overrides.paused_here_only, this
// instance refuses purchases at once, and the admin answer says the other
// instances have not got it yet.
func TestAdminPauseWithRedisDown(t *testing.T) {
	srv := redistest.Start(t)
	c := redistest.Client(t, srv.Addr())
	ov := override.NewRedis(bgCtx(), c, "fg:", 200*time.Millisecond, nil)
	t.Cleanup(func() { _ = ov.Close() })
	ts := newTestServer(t, numbersYAML, Deps{Overrides: ov})
	ac := newAdminClient(t, ts, ts.deps, nil)
	srv.Kill()
	var got activityView
	if code := ac.call(t, "POST", "/admin/activities/phone-sale/pause", &got); code != 202 {
		t.Fatalf("pause with Redis down: %d, want 202", code)
	}
	if !got.Paused || !got.Overrides.Paused || !got.Overrides.PausedHereOnly {
		t.Fatalf("answer %+v: want paused, here only", got)
	}
	if !ts.Server.Instance().Activities["phone-sale"].Paused() {
		t.Fatal("this instance does not refuse purchases")
	}
}
