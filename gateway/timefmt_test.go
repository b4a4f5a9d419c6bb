package gateway

import (
	"encoding/json"
	"regexp"
	"testing"
	"time"
)

var millisRe = regexp.MustCompile(`^"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"$`)

// TestStatusTimesInMillis: the status endpoint writes every time in the
// one format of the public JSON (RFC3339Milli), whole seconds and
// nanoseconds alike, the same as the not_started rejection's starts_at.
func TestStatusTimesInMillis(t *testing.T) {
	ts := newTestServer(t, `
activities: [{id: later, product: mug, stock: 1, start: "2030-01-01T12:00:00Z", end: "2030-01-01T13:00:00.5Z"}]
routes: [{path: "/api/activities/{activity}/status", action: {type: json, endpoint: activity_status}}]
`, Deps{})
	r := ts.do(t, "GET", "/api/activities/later/status")
	var m map[string]json.RawMessage
	if err := json.Unmarshal(r.Body(), &m); err != nil {
		t.Fatalf("%s: %v", r.Body(), err)
	}
	for k, want := range map[string]string{"starts_at": `"2030-01-01T12:00:00.000Z"`, "ends_at": `"2030-01-01T13:00:00.500Z"`} {
		if string(m[k]) != want {
			t.Errorf("%s = %s, want %s", k, m[k], want)
		}
	}
	if !millisRe.Match(m["server_time"]) {
		t.Errorf("server_time %s is not RFC 3339 with milliseconds", m["server_time"])
	}
	b, _ := json.Marshal(Millis(time.Date(2030, 1, 1, 12, 0, 0, 123456789, time.FixedZone("CST", 8*3600))))
	if string(b) != `"2030-01-01T04:00:00.123Z"` {
		t.Errorf("Millis marshals as %s", b)
	}
	var back Millis
	if err := json.Unmarshal(b, &back); err != nil || !time.Time(back).Equal(time.Date(2030, 1, 1, 4, 0, 0, 123e6, time.UTC)) {
		t.Errorf("Millis unmarshals to %v, %v", time.Time(back), err)
	}
}
