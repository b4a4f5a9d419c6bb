package stock

import (
	"context"
	"time"
)

// Loaded reports whether st already holds activity s.Activity loaded with
// exactly the spec s, so that a Warm of s would change nothing: the warm
// command and the admin API use it to say "already loaded" instead of
// "warmed". A store that cannot tell answers false (a Warm is idempotent,
// so the only cost is the word).
func Loaded(ctx context.Context, st Store, s Spec) (bool, error) {
	switch st := st.(type) {
	case *RedisStore:
		return st.loaded(ctx, s)
	case *memoryStore:
		return st.loaded(s), nil
	}
	return false, nil
}

// loaded: the meta key names s and every shard finished loading it.
func (r *RedisStore) loaded(ctx context.Context, s Spec) (bool, error) {
	old, loaded, err := r.readMeta(ctx, s.Activity)
	if err != nil || !loaded || old.spec != s {
		return false, err
	}
	behind, _, err := r.inspect(ctx, old)
	return err == nil && len(behind) == 0, err
}

func (m *memoryStore) loaded(s Spec) bool {
	a := m.get(s.Activity)
	return a != nil && a.spec.sameStock(s) && time.Duration(a.pay.within.Load()) == s.PayWithin
}
