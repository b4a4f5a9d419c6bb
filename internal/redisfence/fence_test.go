package redisfence_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/flashgate/flashgate/internal/redisfence"
	"github.com/flashgate/flashgate/internal/redistest"
)

var setScript = rueidis.NewLuaScript(redisfence.Prologue + `redis.call('SET', KEYS[1], ARGV[2]) return 1`)

// TestFence, on a real redis-server: a fenced write runs in time; one
// that Redis could only run after its caller gave up (the server frozen
// with SIGSTOP between the deadline and the write) is refused when Redis
// resumes; one sent past its deadline answers Late.
func TestFence(t *testing.T) {
	rs := redistest.Start(t)
	c := redistest.Client(t, rs.Addr())
	bg := context.Background()
	get := func(key string) (string, bool) {
		t.Helper()
		v, err := c.Do(bg, c.B().Get().Key(key).Build()).ToString()
		if rueidis.IsRedisNil(err) {
			return "", false
		}
		if err != nil {
			t.Fatal(err)
		}
		return v, true
	}
	write := func(ctx context.Context, key, v string, freeze bool) (int64, error) {
		dl, err := redisfence.Deadline(ctx, c, key)
		if err != nil {
			return 0, err
		}
		if freeze {
			rs.Pause()
			defer rs.Resume()
		}
		return setScript.Exec(ctx, c, []string{key}, redisfence.Args(dl, v)).AsInt64()
	}

	t.Run("in time", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(bg, 2*time.Second)
		defer cancel()
		if n, err := write(ctx, "a", "1", false); n != 1 || err != nil {
			t.Fatalf("write = %d, %v", n, err)
		}
		if v, _ := get("a"); v != "1" {
			t.Fatalf("a = %q", v)
		}
	})
	t.Run("run after the caller gave up: refused", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(bg, 300*time.Millisecond)
		defer cancel()
		if _, err := write(ctx, "b", "1", true); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("write to a frozen Redis: %v, want the deadline", err)
		}
		// Resumed by write's defer: the queued script runs now, and must
		// refuse. A later command on the same connection runs after it.
		if _, ok := get("b"); ok {
			t.Fatal("the write that timed out landed after Redis resumed")
		}
	})
	t.Run("sent past its deadline: Late", func(t *testing.T) {
		n, err := setScript.Exec(bg, c, []string{"c"}, redisfence.Args("1", "1")).AsInt64()
		if n != redisfence.Late || err != nil {
			t.Fatalf("late write = %d, %v; want Late", n, err)
		}
		if _, ok := get("c"); ok {
			t.Fatal("a late write landed")
		}
	})
	t.Run("no deadline", func(t *testing.T) {
		if _, err := redisfence.Deadline(bg, c, "d"); err == nil {
			t.Fatal("Deadline without a context deadline: no error")
		}
	})
}
