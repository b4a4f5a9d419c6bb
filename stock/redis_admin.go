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

type metaSpec struct {
	spec    Spec
	version int64
}

// readMeta reads activity's meta key; ok is false when it is not loaded.
func (r *RedisStore) readMeta(ctx context.Context, activity string) (m metaSpec, ok bool, err error) {
	cctx, cancel := context.WithTimeout(ctx, r.timeout)
	f, err := r.bg.Do(cctx, r.bg.B().Hgetall().Key(metaKey(r.prefix, activity)).Build()).AsStrMap()
	cancel()
	if err != nil {
		return m, false, unavailable("read spec", err)
	}
	m.spec.Activity = activity
	m.spec.Stock, _ = strconv.ParseInt(f["stock"], 10, 64)
	m.spec.Shards, _ = strconv.Atoi(f["shards"])
	m.spec.PerUser, _ = strconv.ParseInt(f["per_user"], 10, 64)
	m.version, _ = strconv.ParseInt(f["version"], 10, 64)
	payMS, _ := strconv.ParseInt(f["pay_within"], 10, 64)
	m.spec.PayWithin = time.Duration(payMS) * time.Millisecond
	return m, m.version > 0 && m.spec.Shards >= 1 && m.spec.Shards <= MaxShards, nil
}

func (r *RedisStore) Warm(ctx context.Context, s Spec, force bool) error {
	if err := s.Validate(); err != nil {
		return err
	}
	token, err := r.takeLease(ctx, s.Activity)
	if err != nil {
		return err
	}
	defer r.giveLease(s.Activity, token)
	ctx, cancel := context.WithTimeout(ctx, warmFor)
	defer cancel()
	return r.warm(ctx, s, force, token)
}

// warm is Warm's work, under the lease token (warmlease.go).
func (r *RedisStore) warm(ctx context.Context, s Spec, force bool, token string) error {
	r.sweepAlso(s.Activity)
	old, loaded, err := r.readMeta(ctx, s.Activity)
	if err != nil {
		return err
	}
	if loaded && !force && old.spec.sameStock(s) && old.spec.PayWithin != s.PayWithin {
		// pay_within changes in place, on a running sale too: the sync
		// loops of every instance read it again within SyncInterval.
		if err := r.setPayWithin(ctx, s); err != nil {
			return err
		}
		old.spec.PayWithin = s.PayWithin
	}
	if loaded && !force {
		behind, frozen, sold, err := r.inspect(ctx, old)
		if err != nil {
			return err
		}
		if frozen && sold {
			// A freeze whose Warm found the sale sold: that Warm does not
			// load (nothing sells or settles while frozen, so it saw what
			// this one sees) and thaws, unless its thaw failed. Undo it,
			// whatever this Warm's spec, so the sale sells again. A freeze
			// of an unsold sale is never thawed here: its Warm may be about
			// to replace it, and a sale at the old version between would
			// be wiped by that load.
			if err := r.thaw(ctx, old); err != nil {
				return err
			}
			if behind, frozen, sold, err = r.inspect(ctx, old); err != nil {
				return err
			}
		}
		switch {
		case old.spec == s && len(behind) == 0:
			return nil
		case old.spec == s && !frozen:
			// A Warm died half-way. Finish it at its version, loading only
			// the shards it did not reach: the others may already sell,
			// and reloading them would sell their units again.
			return r.load(ctx, s, old.version, behind, false)
		case sold:
			return ErrExists
		}
		// A different spec on an unsold activity, or an unsold one another
		// Warm froze (replacing it now, or dead half-way: it replaces it,
		// and so does this one, each at a newer version; versions only move
		// forward, so the last wins): freeze its shards so no
		// Take can admit between the check and the load, check again, and
		// only then replace it.
		if err := r.swapVersion(ctx, old, old.version, -old.version); err != nil {
			return err
		}
		_, _, sold, err = r.inspect(ctx, old)
		if err != nil {
			// Not thawed: another Warm may count on this freeze (its own
			// made this one's a no-op). The next Warm resolves it: sold,
			// it thaws; unsold, it replaces the sale.
			return fmt.Errorf("%w (the sale stays frozen, selling nothing, until the next warm)", err)
		}
		if sold {
			// Every Warm that froze it sees it sold too (nothing sells
			// while frozen): none loads, so thawing is safe.
			if err := r.thaw(ctx, old); err != nil {
				return err
			}
			return ErrExists
		}
	}
	r.step("checked")
	cctx, cancel := context.WithTimeout(ctx, r.timeout)
	version, err := metaScript.Exec(cctx, r.bg, []string{metaKey(r.prefix, s.Activity), warmKey(r.prefix, s.Activity)}, []string{
		strconv.FormatInt(s.Stock, 10), strconv.Itoa(s.Shards), strconv.FormatInt(s.PerUser, 10),
		strconv.FormatInt(s.PayWithin.Milliseconds(), 10), token,
	}).AsInt64()
	cancel()
	if err != nil {
		return unavailable("warm", err)
	}
	if version < 0 {
		return unavailable("warm", fmt.Errorf("lost its lease: it took longer than %s, and another warm may have run; nothing was loaded", warmLease))
	}
	r.step("versioned")
	all := make([]int, s.Shards)
	for i := range all {
		all[i] = i
	}
	if err := r.loadShards(ctx, s, version, all, force); err != nil {
		return err
	}
	if loaded && old.spec.Shards > s.Shards {
		cmds := make(rueidis.Commands, 0, old.spec.Shards-s.Shards)
		for i := s.Shards; i < old.spec.Shards; i++ {
			// The orders Stream stays: it holds orders already admitted.
			k := shardKeys(r.prefix, s.Activity, i)
			cmds = append(cmds, r.c.B().Del().Key(k[kState], k[kPend], k[kFence], k[kDue]).Build())
		}
		if _, err := r.doMulti(ctx, "warm", cmds); err != nil {
			return err
		}
	}
	return r.announce(ctx, s.Activity, version)
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

// swapVersion moves every shard of m from version from to version to.
func (r *RedisStore) swapVersion(ctx context.Context, m metaSpec, from, to int64) error {
	f, t := strconv.FormatInt(from, 10), strconv.FormatInt(to, 10)
	multi := make([]rueidis.LuaExec, m.spec.Shards)
	for i := range multi {
		multi[i] = rueidis.LuaExec{Keys: shardKeys(r.prefix, m.spec.Activity, i), Args: []string{f, t}}
	}
	_, err := r.execMulti(ctx, "warm", swapverScript, multi)
	return err
}

// thaw undoes Warm's freeze of a sale that has sold, retrying while Redis
// fails (a frozen shard sells nothing, and the forwarders hold its orders
// back), for thawFor at most. A freeze it cannot undo is not lost: the
// next Warm, of any spec, finds it frozen and sold and thaws it first.
func (r *RedisStore) thaw(ctx context.Context, m metaSpec) error {
	ctx, cancel := context.WithTimeout(ctx, thawFor) // a start-up's warm passes no deadline
	defer cancel()
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		err := r.swapVersion(ctx, m, -m.version, m.version)
		if err == nil {
			return nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (the sale stays frozen, selling nothing, until the next warm thaws it)", err)
		case <-t.C:
		}
	}
}

// thawFor bounds thaw's retries.
const thawFor = 10 * time.Second

// load finishes a load at version on the given shards, then announces it.
func (r *RedisStore) load(ctx context.Context, s Spec, version int64, shards []int, force bool) error {
	if err := r.loadShards(ctx, s, version, shards, force); err != nil {
		return err
	}
	return r.announce(ctx, s.Activity, version)
}

// loadShards runs load.lua at version on each of shards. Without force, a
// shard that sold in the version it holds is kept, and the Warm fails
// with ErrExists: only a Warm that lost its lease can meet one (another
// Warm's load sold meanwhile), and loading over it would sell its units
// again.
func (r *RedisStore) loadShards(ctx context.Context, s Spec, version int64, shards []int, force bool) error {
	ver, pu, n := strconv.FormatInt(version, 10), strconv.FormatInt(s.PerUser, 10), strconv.Itoa(s.Shards)
	f := "0"
	if force {
		f = "1"
	}
	multi := make([]rueidis.LuaExec, len(shards))
	for j, i := range shards {
		multi[j] = rueidis.LuaExec{
			Keys: shardKeys(r.prefix, s.Activity, i),
			Args: []string{ver, pu, n, strconv.FormatInt(share(s.Stock, s.Shards, i), 10), r.channel, stockMsg(s.Activity, i), f},
		}
	}
	res, err := r.execMulti(ctx, "warm", loadScript, multi)
	if err != nil {
		return err
	}
	for j, v := range res {
		if v == loadKeptSold {
			return fmt.Errorf("%w: shard %d sold under another load meanwhile (a warm that lost its lease) and was kept; warm with force to reset the sale", ErrExists, shards[j])
		}
	}
	return nil
}

// loadKeptSold is load.lua's reply for a shard it kept because it sold.
const loadKeptSold = 2

// step marks a point in Warm for tests that interleave two of them.
func (r *RedisStore) step(name string) {
	if r.warmStep != nil {
		r.warmStep(name)
	}
}

// announce drops the local spec and tells every instance to do the same.
func (r *RedisStore) announce(ctx context.Context, activity string, version int64) error {
	r.drop(activity)
	cctx, cancel := context.WithTimeout(ctx, r.timeout)
	err := r.bg.Do(cctx, r.bg.B().Publish().Channel(r.channel).Message(loadMsg(activity, version)).Build()).Error()
	cancel()
	if err != nil {
		return unavailable("warm", err)
	}
	return nil
}

// inspect reports the shards of m not loaded at m's version (some, after
// a Warm that died half-way) and whether anything was sold in that version
// (a unit taken, even if released since, or a pending mark).
// frozen reports a shard at exactly -version: a Warm's freeze not undone.
func (r *RedisStore) inspect(ctx context.Context, m metaSpec) (behind []int, frozen, sold bool, err error) {
	cmds := make(rueidis.Commands, 0, 2*m.spec.Shards)
	for i := range m.spec.Shards {
		k := shardKeys(r.prefix, m.spec.Activity, i)
		cmds = append(cmds,
			r.c.B().Hmget().Key(k[kState]).Field("v", "a").Build(),
			r.c.B().Zcard().Key(k[kPend]).Build())
	}
	res, err := r.doMulti(ctx, "warm", cmds)
	if err != nil {
		return nil, false, false, err
	}
	for i := 0; i < len(res); i += 2 {
		va, _ := res[i].ToArray()
		var v, admitted int64
		if len(va) == 2 {
			v, _ = va[0].AsInt64()
			admitted, _ = va[1].AsInt64()
		}
		pend, _ := res[i+1].AsInt64()
		if v != m.version {
			behind = append(behind, i/2)
		}
		frozen = frozen || v == -m.version
		sold = sold || admitted > 0 || pend > 0
	}
	return behind, frozen, sold, nil
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
	shards := make([]int, 0, m.spec.Shards)
	for i := range m.spec.Shards {
		if s := share(n, m.spec.Shards, i); s > 0 {
			multi = append(multi, rueidis.LuaExec{
				Keys: shardKeys(r.prefix, activity, i),
				Args: []string{ver, strconv.FormatInt(s, 10), r.channel, stockMsg(activity, i)},
			})
			shards = append(shards, i)
		}
	}
	res, err := r.execMulti(ctx, "top-up", topupScript, multi)
	if err != nil {
		return err
	}
	a := r.cached(activity)
	for i, v := range res {
		switch {
		case v == -codeNotLoaded:
			return ErrNotLoaded
		case v < 0:
			return unavailable("top-up", errStale)
		case a != nil && a.version == m.version:
			a.empty.clear(shards[i])
		}
	}
	return nil
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
