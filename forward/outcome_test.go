package forward

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// TestClassify: what every send result means, for both queues. Jitter
// 0.999999 makes a backoff its full value (base × 2^(n-1), capped).
func TestClassify(t *testing.T) {
	p := newPolicy(3, 200*time.Millisecond, 2*time.Second, time.Minute)
	unreachable := fmt.Errorf("%w: dial tcp: connection refused", ErrUnreachable)
	breaker := fmt.Errorf("breaker open: %w", ErrNotSent)
	tests := []struct {
		name     string
		rep      Reply
		err      error
		try      try
		verdict  verdict
		reason   string
		wait     time.Duration
		counted  bool
		mayBeDup bool
	}{
		{"201", Reply{Status: 201}, nil, try{}, vDeliver, "", 0, true, false},
		{"409: the backend has the key", Reply{Status: 409}, nil, try{}, vDeliver, "", 0, true, false},
		{"400", Reply{Status: 400}, nil, try{}, vDeadLetter, ReasonRejected, 0, true, false},
		{"302 is no order", Reply{Status: 302}, nil, try{}, vDeadLetter, ReasonRejected, 0, true, false},
		{"404 after failures", Reply{Status: 404}, nil, try{attempts: 2, failures: 5}, vDeadLetter, ReasonRejected, 0, true, false},
		{"500: counted retry", Reply{Status: 500}, nil, try{}, vRetry, "", 200 * time.Millisecond, true, false},
		{"500 on the third failure", Reply{Status: 500}, nil, try{attempts: 1, failures: 2}, vRetry, "", 800 * time.Millisecond, true, false},
		{"500 on the last attempt", Reply{Status: 500}, nil, try{attempts: 2, failures: 2}, vDeadLetter, ReasonExhausted, 0, true, false},
		{"503 without Retry-After is a 5xx", Reply{Status: 503}, nil, try{attempts: 2}, vDeadLetter, ReasonExhausted, 0, true, false},
		{"timeout: counted, may be a duplicate", Reply{}, context.DeadlineExceeded, try{}, vRetry, "", 200 * time.Millisecond, true, true},
		{"timeout on the last attempt", Reply{}, errors.New("broken pipe"), try{attempts: 2}, vDeadLetter, ReasonExhausted, 0, true, true},
		{"unreachable: not counted", Reply{}, unreachable, try{attempts: 2, failures: 2}, vRetry, "", 800 * time.Millisecond, false, false},
		{"unreachable for long: capped backoff, still not counted", Reply{}, unreachable, try{attempts: 2, failures: 40}, vRetry, "", 2 * time.Second, false, false},
		{"breaker open: not counted", Reply{}, breaker, try{attempts: 2}, vRetry, "", 200 * time.Millisecond, false, false},
		{"429: not counted", Reply{Status: 429}, nil, try{attempts: 2}, vRetry, "", 200 * time.Millisecond, false, false},
		{"429 Retry-After longer than the backoff", Reply{Status: 429, RetryAfter: time.Second}, nil, try{attempts: 2}, vRetry, "", time.Second, false, false},
		{"429 Retry-After shorter than the backoff", Reply{Status: 429, RetryAfter: time.Second}, nil, try{failures: 3}, vRetry, "", 1600 * time.Millisecond, false, false},
		{"503 Retry-After capped at backoff_max", Reply{Status: 503, RetryAfter: time.Hour}, nil, try{attempts: 2}, vRetry, "", 2 * time.Second, false, false},
		{"unreachable past max_wait: expired", Reply{}, unreachable, try{age: time.Minute - 100*time.Millisecond}, vDeadLetter, ReasonExpired, 0, false, false},
		{"unreachable just inside max_wait", Reply{}, unreachable, try{age: time.Minute - 200*time.Millisecond}, vRetry, "", 200 * time.Millisecond, false, false},
		{"429 past max_wait: expired", Reply{Status: 429, RetryAfter: 2 * time.Second}, nil, try{age: 59 * time.Second}, vDeadLetter, ReasonExpired, 0, false, false},
		{"500 past max_wait: expired, counted", Reply{Status: 500}, nil, try{age: time.Hour}, vDeadLetter, ReasonExpired, 0, true, false},
		{"201 past max_wait: delivered all the same", Reply{Status: 201}, nil, try{age: time.Hour}, vDeliver, "", 0, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := p.classify(tc.rep, tc.err, tc.try, 0.999999)
			want := outcome{verdict: tc.verdict, reason: tc.reason, counted: tc.counted, maybeSeen: tc.mayBeDup}
			gotWait := got.wait
			got.wait = 0
			if got != want {
				t.Errorf("classify = %+v, want %+v", got, want)
			}
			if d := gotWait - tc.wait; d < -time.Millisecond || d > time.Millisecond {
				t.Errorf("wait = %v, want %v", gotWait, tc.wait)
			}
		})
	}
}

func TestNewPolicyDefaults(t *testing.T) {
	tests := []struct {
		name string
		in   policy
		want policy
	}{
		{"zero", policy{}, policy{6, 200 * time.Millisecond, 10 * time.Second, 10 * time.Minute}},
		{"set", policy{3, time.Second, 5 * time.Second, time.Hour}, policy{3, time.Second, 5 * time.Second, time.Hour}},
		{"backoff_max below backoff", policy{3, time.Second, 500 * time.Millisecond, time.Hour}, policy{3, time.Second, time.Second, time.Hour}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := newPolicy(tc.in.attempts, tc.in.backoff, tc.in.backoffMax, tc.in.maxWait); got != tc.want {
				t.Errorf("newPolicy = %+v, want %+v", got, tc.want)
			}
		})
	}
}
