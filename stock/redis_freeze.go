package stock

// The freeze around a Warm that replaces an unsold sale: every shard is
// moved to -version (swapver.lua) so nothing sells while Warm checks that
// nothing sold (inspect), and moved back (thaw) when it finds it sold.

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/rueidis"
)

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
