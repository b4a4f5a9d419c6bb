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

// loaded: the meta key names s, every shard finished loading it, no
// delete of its old shards is pending, and no Warm holds the lease (one
// may be replacing it: the caller's Warm then answers ErrWarmBusy).
func (r *RedisStore) loaded(ctx context.Context, s Spec) (bool, error) {
	old, loaded, err := r.readMeta(ctx, s.Activity)
	if err != nil || !loaded || old.spec != s || old.drop > old.spec.Shards {
		return false, err
	}
	if held, err := r.leaseHeld(ctx, s.Activity); err != nil || held {
		return false, err
	}
	behind, _, _, err := r.inspect(ctx, old)
	return err == nil && len(behind) == 0, err
}

func (m *memoryStore) loaded(s Spec) bool {
	a := m.get(s.Activity)
	return a != nil && a.spec.sameStock(s) && time.Duration(a.pay.within.Load()) == s.PayWithin
}

// LoadedSpec reads the spec activity is loaded with in st; ok is false
// when it is not loaded (or st cannot tell). A reload on a shared store
// compares it with the file, so that every reload, not only the one that
// changed the file, says the running sale keeps other settings.
func LoadedSpec(ctx context.Context, st Store, activity string) (s Spec, ok bool, err error) {
	switch st := st.(type) {
	case *RedisStore:
		m, ok, err := st.readMeta(ctx, activity)
		return m.spec, ok, err
	case *memoryStore:
		if a := st.get(activity); a != nil {
			s = a.spec
			s.PayWithin = time.Duration(a.pay.within.Load())
			return s, true, nil
		}
	}
	return s, false, nil
}
