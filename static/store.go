package static

import (
	"context"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/allegro/bigcache/v3"
)

// entry is one page variant waiting to be stored.
type entry struct {
	key  string
	body []byte
}

// newStore puts every page variant in a bigcache sized by mb (0 =
// unbounded) and fails if any of them did not fit.
//
// Pages change only with a new Load, so the cache is configured never to
// expire or clean: LifeWindow is as long as a Duration allows (bigcache
// evicts on Set anything older than LifeWindow, even with CleanWindow 0)
// and CleanWindow 0 starts no janitor goroutine. What remains is eviction
// for lack of space, which would turn a catalogue page into a 404: that
// is counted during Load and reported as a cache_mb error instead.
func newStore(mb int, entries []entry) (*bigcache.BigCache, error) {
	if mb < 0 {
		return nil, fmt.Errorf("%s: must be >= 0, got %d", keyCacheMB, mb)
	}
	total, largest := 0, 0
	for _, e := range entries {
		total += len(e.body)
		largest = max(largest, len(e.body)+len(e.key)+64) // + bigcache's entry header, roughly
	}
	var evicted atomic.Int64
	cfg := bigcache.Config{
		Shards:             shardCount(len(entries), mb, largest),
		LifeWindow:         time.Duration(math.MaxInt64),
		CleanWindow:        0,
		MaxEntriesInWindow: max(len(entries), 1),
		MaxEntrySize:       max(total/max(len(entries), 1), 1),
		HardMaxCacheSize:   mb,
		Verbose:            false,
		OnRemoveWithReason: func(string, []byte, bigcache.RemoveReason) { evicted.Add(1) },
	}
	c, err := bigcache.New(context.Background(), cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", keyCacheMB, err)
	}
	for _, e := range entries {
		if err := c.Set(e.key, e.body); err != nil {
			c.Close()
			return nil, fmt.Errorf("%s: %d MB cannot hold page %q (%d bytes): %w", keyCacheMB, mb, e.key, len(e.body), err)
		}
	}
	if n := evicted.Load(); n > 0 {
		c.Close()
		return nil, fmt.Errorf("%s: %d MB holds only %d of %d page variants (%d bytes in all); raise it",
			keyCacheMB, mb, len(entries)-int(n), len(entries), total)
	}
	return c, nil
}

// shardCount picks a power of two: enough shards that cold reads rarely
// contend on a shard lock, few enough that each shard (mb/shards when
// bounded) still holds several of the largest pages.
func shardCount(n, mb, largest int) int {
	shards := 1
	for shards < 256 && shards*4 < n {
		shards *= 2
	}
	if mb > 0 {
		for shards > 1 && (mb<<20)/shards < 4*largest {
			shards /= 2
		}
	}
	return shards
}
