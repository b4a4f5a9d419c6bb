package stock

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/rueidis"

	"github.com/flashgate/flashgate/internal/ident"
	"github.com/flashgate/flashgate/internal/redisfence"
)

// batchTimeout bounds a call that carries n commands (Warm, Left, TopUp,
// the sync loop): the per-call Timeout, plus a share for large batches.
func (r *RedisStore) batchTimeout(n int) time.Duration {
	return r.timeout * time.Duration(1+n/256)
}

// doMulti runs cmds under one bounded timeout and fails on the first error.
func (r *RedisStore) doMulti(ctx context.Context, op string, cmds rueidis.Commands) ([]rueidis.RedisResult, error) {
	cctx, cancel := context.WithTimeout(ctx, r.batchTimeout(len(cmds)))
	defer cancel()
	res := r.bg.DoMulti(cctx, cmds...)
	for _, x := range res {
		if err := x.Error(); err != nil && !rueidis.IsRedisNil(err) {
			return nil, unavailable(op, err)
		}
	}
	return res, nil
}

// execMulti runs a script once per entry under one bounded timeout.
func (r *RedisStore) execMulti(ctx context.Context, op string, s *rueidis.Lua, multi []rueidis.LuaExec) ([]int64, error) {
	cctx, cancel := context.WithTimeout(ctx, r.batchTimeout(len(multi)))
	defer cancel()
	out := make([]int64, len(multi))
	for i, x := range s.ExecMulti(cctx, r.bg, multi...) {
		v, err := x.AsInt64()
		if err != nil {
			return nil, unavailable(op, err)
		}
		out[i] = v
	}
	return out, nil
}

// SetPayWithin gives a loaded activity pay_within d in place, for the
// admissions that follow (a reload's change: the sale keeps its stock and
// ledgers). It reports whether anything changed; an activity not loaded
// is left alone (a warm-up loads it with the config's value).
func (r *RedisStore) SetPayWithin(ctx context.Context, activity string, d time.Duration) (bool, error) {
	m, loaded, err := r.readMeta(ctx, activity)
	if err != nil || !loaded || m.spec.PayWithin == d {
		return false, err
	}
	m.spec.PayWithin = d
	r.sweepAlso(activity)
	return true, r.setPayWithin(ctx, m.spec)
}

// setPayWithin records s's pay_within on the meta key and drops the local
// spec, so the next Take reads it.
func (r *RedisStore) setPayWithin(ctx context.Context, s Spec) error {
	cctx, cancel := context.WithTimeout(ctx, r.timeout)
	err := r.bg.Do(cctx, r.bg.B().Hset().Key(metaKey(r.prefix, s.Activity)).FieldValue().
		FieldValue("pay_within", strconv.FormatInt(s.PayWithin.Milliseconds(), 10)).Build()).Error()
	cancel()
	if err != nil {
		return unavailable("warm", err)
	}
	r.drop(s.Activity)
	return nil
}

func (r *RedisStore) TopUp(ctx context.Context, activity string, n int64) error {
	if n <= 0 || n > MaxUnits {
		return &specError{"top-up must be in 1..2^40"}
	}
	if !ident.Valid(activity) {
		return ErrNotLoaded
	}
	m, ok, err := r.readMeta(ctx, activity)
	if err != nil {
		return err
	}
	if !ok {
		return ErrNotLoaded
	}
	ver := strconv.FormatInt(m.version, 10)
	multi := make([]rueidis.LuaExec, 0, m.spec.Shards)
	shards, units, states := make([]int, 0, m.spec.Shards), make([]int64, 0, m.spec.Shards), make([]string, 0, m.spec.Shards)
	for i := range m.spec.Shards {
		if s := share(n, m.spec.Shards, i); s > 0 {
			keys := shardKeys(r.prefix, activity, i)
			multi = append(multi, rueidis.LuaExec{
				Keys: keys,
				Args: []string{"", ver, strconv.FormatInt(s, 10), r.channel, stockMsg(activity, i)},
			})
			shards, units, states = append(shards, i), append(units, s), append(states, keys[kState])
		}
	}
	// Fenced (topup.lua): a share Redis runs only after this call gave up
	// is refused, so a 503 never turns into units added later, and the
	// error says how many units did land before it.
	cctx, cancel := context.WithTimeout(ctx, r.batchTimeout(2*len(multi)))
	defer cancel()
	dls, err := redisfence.Deadlines(cctx, r.bg, states)
	if err != nil {
		return unavailable("top-up", fmt.Errorf("nothing was added: %w", err))
	}
	for i := range multi {
		multi[i].Args[0] = dls[i]
	}
	a := r.cached(activity)
	// Each share is added, certainly not added (refused as late, not
	// loaded, stale: nothing written), or unknown (no answer: a share Redis
	// ran late refuses itself, but one whose reply was lost may have
	// landed). The error says which, so the operator tops up the
	// difference only of what certainly did not land.
	var added, refused, unknown int64
	var notLoaded bool
	var cause error
	for i, x := range topupScript.ExecMulti(cctx, r.bg, multi...) {
		v, err := x.AsInt64()
		switch {
		case err != nil:
			unknown, cause = unknown+units[i], err
		case v == redisfence.Late:
			refused, cause = refused+units[i], redisfence.ErrLate
		case v == -codeNotLoaded:
			refused, notLoaded = refused+units[i], true
		case v < 0:
			refused, cause = refused+units[i], errStale
		default:
			added += units[i]
			if a != nil && a.version == m.version {
				a.empty.clear(shards[i])
			}
		}
	}
	switch {
	case refused+unknown == 0:
		return nil
	case notLoaded && refused == n:
		return ErrNotLoaded
	case cause == nil:
		cause = ErrNotLoaded
	}
	if unknown == 0 && added == 0 {
		return unavailable("top-up", fmt.Errorf("nothing was added: %v", cause))
	}
	return unavailable("top-up", fmt.Errorf("of the %d units %d were added, %d were not (and will not be), %d unknown (Redis did not answer: check the stock before topping up again): %v",
		n, added, refused, unknown, cause))
}

// TakeCommand returns the EVALSHA command line that take.lua runs for
// activity on shard, with redis-benchmark's "__rand_int__" where the user
// and the attempt id go. Running it with redis-benchmark beside the
// gateway measures the physical limit of one Redis for the same script.
// A non-empty order gives the async-mode call, which appends it to the
// shard's orders Stream on admission. The script must be loaded first
// (SCRIPT LOAD of lua/take.lua).
func (r *RedisStore) TakeCommand(ctx context.Context, activity string, shard int, order string) ([]string, error) {
	a, err := r.act(ctx, activity)
	if err != nil {
		return nil, err
	}
	if a == nil {
		return nil, ErrNotLoaded
	}
	if shard < 0 || shard >= a.shards {
		return nil, ErrBadSpec
	}
	keys := a.keys[shard][:syncKeys]
	if order != "" {
		keys = a.keys[shard]
	}
	sum := sha1.Sum([]byte(takeSrc))
	cmd := []string{"EVALSHA", hex.EncodeToString(sum[:]), strconv.Itoa(len(keys))}
	cmd = append(cmd, keys...)
	cmd = append(cmd, a.verStr, "u__rand_int__", a.idx[shard], "__rand_int__", a.puStr)
	if order != "" {
		cmd = append(cmd, streamValue(a.verStr, order)) // as take does
	}
	return cmd, nil
}

// TakeScript is the source of take.lua, for SCRIPT LOAD.
func TakeScript() string { return takeSrc }
