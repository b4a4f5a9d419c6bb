package gateway

import (
	"testing"
	"time"
)

func TestBreakerStates(t *testing.T) {
	t0 := time.Unix(1000, 0)
	b := newBreaker(3, time.Second)
	steps := []struct {
		name  string
		at    time.Duration
		fail  *bool // record an outcome first, when set
		allow bool
	}{
		{"closed", 0, nil, true},
		{"one failure", 0, ptr(true), true},
		{"two failures", 0, ptr(true), true},
		{"third failure opens", 0, ptr(true), false},
		{"still open", 900 * time.Millisecond, nil, false},
		{"probe after open period", time.Second, nil, true},
		{"only one probe", time.Second, nil, false},
		{"failed probe reopens", time.Second, ptr(true), false},
		{"next probe", 2 * time.Second, nil, true},
		{"probe succeeds, closed", 2 * time.Second, ptr(false), true},
		{"closed again", 2 * time.Second, nil, true},
		{"a failure after success does not open", 2 * time.Second, ptr(true), true},
	}
	for _, s := range steps {
		now := t0.Add(s.at)
		if s.fail != nil {
			b.record(!*s.fail, now)
		}
		if got := b.allow(now); got != s.allow {
			t.Fatalf("%s: allow=%v, want %v", s.name, got, s.allow)
		}
	}
	var off *breaker = newBreaker(-1, time.Second)
	off.record(false, t0)
	if !off.allow(t0) {
		t.Error("disabled breaker refused")
	}
}

func ptr(b bool) *bool { return &b }
