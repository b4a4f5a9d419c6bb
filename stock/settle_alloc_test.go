//go:build !race

package stock

import (
	"context"
	"runtime"
	"testing"
)

// TestRedisLocalTakeNoGoroutine: the Takes answered from memory (unknown
// activity, known sold out) allocate nothing and start no goroutine; only a
// Take that needs Redis gets a background side.
func TestRedisLocalTakeNoGoroutine(t *testing.T) {
	r := &RedisStore{}
	a := &redisAct{name: "x", shards: 3, empty: newEmptySet(3)}
	for i := range 3 {
		a.empty.set(i)
	}
	acts := map[string]*redisAct{"x": a}
	r.acts.Store(&acts)
	ctx := context.Background()
	user := []byte("u")
	tests := []struct {
		name     string
		activity string
		want     Result
	}{
		{"known sold out", "x", SoldOut},
		{"unknown (invalid name)", "no such activity!", NotLoaded},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := runtime.NumGoroutine()
			n := testing.AllocsPerRun(1000, func() {
				if d, err := r.Take(ctx, tc.activity, user); err != nil || d.Result != tc.want {
					t.Fatalf("Take = %v, %v; want %v", d.Result, err, tc.want)
				}
			})
			if n != 0 {
				t.Errorf("%v allocs per Take, want 0", n)
			}
			if after := runtime.NumGoroutine(); after > before {
				t.Errorf("goroutines %d -> %d: a local answer started one", before, after)
			}
		})
	}
}
