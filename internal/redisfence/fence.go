// Package redisfence keeps an operator's write that timed out from
// landing later.
//
// A call to Redis that times out has an unknown outcome: the command may
// wait in a socket buffer or behind a frozen (SIGSTOPped, swapping,
// failing over) server and run once it resumes, after the admin API told
// the operator 503 "nothing changed". So the writes the admin API makes
// are scripts that first compare Redis's own clock with a deadline on
// that clock and refuse to run past it: Deadline reads the time of the
// node that holds the key (a one-line script, routed by the key, since
// the nodes of a cluster need not agree) and adds what is left of the
// caller's context after the answer. Redis read its clock before that
// answer arrived, so the deadline falls before the caller gives up
// whatever the skew between the gateway's clock and Redis's (the
// remaining time is measured on the gateway's monotonic clock, the
// deadline compared with Redis's own): a write run later than it is
// refused. Two assumptions remain: the node's wall clock does not step
// back meanwhile (an NTP step back of X lets a write run up to X late),
// and the write runs on the node whose clock was read (a failover
// between the two calls compares with the promoted node's clock). What remains is a
// write that ran in time whose reply was lost on its way back: the
// caller then reports a failure for a write that took effect (the
// README says so).
package redisfence

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/redis/rueidis"
)

// Prologue starts a fenced script: ARGV[1] is Deadline's answer, and past
// it the script returns -1 without writing. The rest of the script reads
// its own arguments from ARGV[2] on.
const Prologue = `local fence_t = redis.call('TIME')
if fence_t[1] * 1000000 + fence_t[2] > tonumber(ARGV[1]) then return -1 end
`

// Late is -1, a fenced script's answer when it ran too late.
const Late = -1

// ErrLate is the error for a fenced script that answered Late.
var ErrLate = errors.New("Redis ran the write only after the call had given up, and refused it: nothing changed")

var clockScript = rueidis.NewLuaScript(`local t = redis.call('TIME')
return t[1] * 1000000 + t[2]`)

// Deadline is the last instant, in microseconds on the clock of the
// Redis node holding key, at which a write sent under ctx may still run.
// ctx must have a deadline.
func Deadline(ctx context.Context, c rueidis.Client, key string) (string, error) {
	dls, err := Deadlines(ctx, c, []string{key})
	if err != nil {
		return "", err
	}
	return dls[0], nil
}

// Deadlines is Deadline for several keys at once (the shards of a sale,
// on as many nodes), in one round trip per node.
func Deadlines(ctx context.Context, c rueidis.Client, keys []string) ([]string, error) {
	dl, ok := ctx.Deadline()
	if !ok {
		return nil, errors.New("redisfence: the context has no deadline")
	}
	multi := make([]rueidis.LuaExec, len(keys))
	for i, k := range keys {
		multi[i] = rueidis.LuaExec{Keys: []string{k}}
	}
	nows := make([]int64, len(keys))
	for i, r := range clockScript.ExecMulti(ctx, c, multi...) {
		now, err := r.AsInt64()
		if err != nil {
			return nil, err
		}
		nows[i] = now
	}
	left := time.Until(dl)
	if left <= 0 {
		return nil, context.DeadlineExceeded
	}
	out := make([]string, len(keys))
	for i, now := range nows {
		out[i] = strconv.FormatInt(now+left.Microseconds(), 10)
	}
	return out, nil
}

// Exec runs fenced script s on key, its deadline first and then args, and
// returns its integer answer, or ErrLate when it ran too late.
func Exec(ctx context.Context, c rueidis.Client, s *rueidis.Lua, key string, args ...string) (int64, error) {
	dl, err := Deadline(ctx, c, key)
	if err != nil {
		return 0, err
	}
	n, err := s.Exec(ctx, c, []string{key}, Args(dl, args...)).AsInt64()
	if err == nil && n == Late {
		return 0, ErrLate
	}
	return n, err
}

// Args is args after the deadline, as a fenced script takes them.
func Args(deadline string, args ...string) []string {
	return append([]string{deadline}, args...)
}
