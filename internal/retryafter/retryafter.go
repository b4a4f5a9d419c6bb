// Package retryafter turns a wait into a Retry-After value: whole
// seconds, rounded up, at least 1. The breakers, the rate limiter and
// the order token's too-young page all answer with it, so a client
// told to wait never comes back a moment too early.
package retryafter

import "time"

// Seconds is d rounded up to whole seconds, at least 1 (a wait of 0 or
// less still asks for 1: Retry-After: 0 invites an immediate retry).
func Seconds(d time.Duration) int {
	return int(max(1, (d+time.Second-1)/time.Second))
}
