package stock

import "context"

// Loaded reports whether activity s.Activity is loaded with exactly the
// spec s on every shard, so that a Warm of s would change nothing. The
// warm command uses it to say "already loaded, nothing to do".
func (r *RedisStore) Loaded(ctx context.Context, s Spec) (bool, error) {
	old, loaded, err := r.readMeta(ctx, s.Activity)
	if err != nil || !loaded || old.spec != s {
		return false, err
	}
	behind, _, err := r.inspect(ctx, old)
	return err == nil && len(behind) == 0, err
}
