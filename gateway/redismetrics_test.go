package gateway

import (
	"context"
	"errors"
	"testing"
)

// TestRedisFailed: what counts in flashgate_redis_errors_total.
func TestRedisFailed(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("BUSYGROUP Consumer Group name already exists"), false},
		{context.DeadlineExceeded, true},
		{errors.New("NOSCRIPT No matching script"), true},
	} {
		if got := failed(tc.err); got != tc.want {
			t.Errorf("failed(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
