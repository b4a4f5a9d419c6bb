package gateway

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/flashgate/flashgate/internal/demobackend"
	"github.com/flashgate/flashgate/internal/redistest"
	"github.com/flashgate/flashgate/override"
)

// TestPurchasesWaitForOverrides: a gateway whose shared overrides could
// not be read yet (started while Redis was down) answers its purchase
// routes busy, even where the stock store would admit: an operator's
// pause in Redis must not be sold through before it is read. Once it
// is read, the pause in Redis applies (503 paused), and once resumed the
// purchase is admitted.
func TestPurchasesWaitForOverrides(t *testing.T) {
	rs := redistest.Start(t)
	c := redistest.Client(t, rs.Addr())
	ctx := context.Background()
	rs.Kill()
	ov := override.NewRedis(ctx, c, "fg:", 200*time.Millisecond, nil)
	t.Cleanup(func() { _ = ov.Close() })
	_, addr, _ := startBackend(t, demobackend.Options{})
	ts := newTestServer(t, adminYAML(addr), Deps{Overrides: ov})
	buy := func(user string) (int, string) {
		r := ts.do(t, "POST", "/buy/phone-sale", "X-User-Id", user)
		return r.StatusCode(), string(r.Header.Peek(ReasonHeader))
	}
	if code, reason := buy("u1"); code != 503 || reason != "busy" {
		t.Fatalf("purchase before the overrides were read: %d %q, want 503 busy", code, reason)
	}
	if body := string(ts.do(t, "GET", "/api/activities/phone-sale/status").Body()); !strings.Contains(body, `"paused":null`) {
		t.Errorf("status before the overrides were read: %s, want paused null (unknown)", body)
	}
	rs.Restart(t)
	rc := redistest.Client(t, rs.Addr())
	if err := rc.Do(ctx, rc.B().Hset().Key("fg:overrides").FieldValue().FieldValue("paused:phone-sale", "1").FieldValue("decided:phone-sale", "1").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, reason := buy("u1")
		if code/100 == 2 {
			t.Fatalf("purchase admitted (%d) while the pause in Redis was unread or in force", code)
		}
		if code == 503 && reason == "paused" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the pause in Redis not applied within 10 s: last %d %q", code, reason)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := ov.SetPaused(ctx, "phone-sale", false); err != nil {
		t.Fatal(err)
	}
	if code, reason := buy("u1"); code != 201 {
		t.Fatalf("purchase after the resume: %d %q, want 201", code, reason)
	}
}
