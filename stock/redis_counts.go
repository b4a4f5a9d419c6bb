package stock

import (
	"context"
	"errors"

	"github.com/redis/rueidis"

	"github.com/flashgate/flashgate/internal/ident"
)

func (r *RedisStore) Left(ctx context.Context, activity string) (int64, error) {
	c, err := r.Counts(ctx, activity)
	switch {
	case errors.Is(err, ErrNotLoaded):
		return -1, nil
	case err != nil:
		return -1, err
	}
	return c.Left, nil
}

// Counts reads the meta key, then every shard with counts.lua. A shard at
// another version than the meta key means a Warm is under way: the read
// is tried once more, then fails as unavailable rather than mix two loads.
func (r *RedisStore) Counts(ctx context.Context, activity string) (Counts, error) {
	if !ident.Valid(activity) {
		return Counts{}, ErrNotLoaded
	}
	r.sweepAlso(activity)
	for attempt := 0; ; attempt++ {
		c, err := r.counts(ctx, activity)
		if err != errStale {
			return c, err
		}
		if attempt == 1 {
			return Counts{}, unavailable("counts", errStale)
		}
	}
}

func (r *RedisStore) counts(ctx context.Context, activity string) (Counts, error) {
	m, ok, err := r.readMeta(ctx, activity)
	if err != nil {
		return Counts{}, err
	}
	if !ok {
		return Counts{}, ErrNotLoaded
	}
	multi := make([]rueidis.LuaExec, m.spec.Shards)
	for i := range multi {
		multi[i] = rueidis.LuaExec{Keys: shardKeys(r.prefix, activity, i)}
	}
	cctx, cancel := context.WithTimeout(ctx, r.batchTimeout(len(multi)))
	defer cancel()
	a := r.cached(activity)
	if a != nil && a.version != m.version {
		a = nil
	}
	var left, topped, held, paid, unpaid int64
	for i, x := range countsScript.ExecMulti(cctx, r.bg, multi...) {
		v, err := x.AsIntSlice()
		if err != nil {
			return Counts{}, unavailable("counts", err)
		}
		if len(v) != 6 {
			return Counts{}, unavailable("counts", errReply)
		}
		if v[0] != m.version {
			return Counts{}, errStale
		}
		left += v[1]
		topped += v[2]
		held, paid, unpaid = held+v[3], paid+v[4], unpaid+v[5]
		if a != nil && v[1] > 0 {
			a.empty.clear(i) // free news for the local bits
		}
	}
	c := newCounts(m.spec.Stock, topped, left)
	c.Held, c.Paid, c.ReleasedUnpaid = held, paid, unpaid
	return c, nil
}
