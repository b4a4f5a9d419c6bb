// Package userset keeps a local copy of a Redis set, merged with entries
// read from a file, for filters that must answer "is this user (or IP)
// listed?" on every request without waiting on Redis: the blacklist and
// the reservation list.
//
// The copy is an immutable snapshot behind an atomic pointer. The request
// path loads the pointer and looks up a map; a background loop reloads the
// set every refresh interval and swaps in a new snapshot; a failed reload
// keeps the last one. Admin writes go to Redis first and then straight into
// the local copy, so the instance that took the write applies it at once
// and the others within one refresh.
package userset

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"
)

// Options configure a Mirror. T is the snapshot the request path reads.
type Options[T any] struct {
	// Client and Key name the Redis set (Key with its prefix). A nil
	// Client or an empty Key makes a file-only mirror.
	Client rueidis.Client
	Key    string
	// Static entries (from a file) are part of every snapshot.
	Static []string
	// Build makes a snapshot from the static entries followed by the set's
	// members (which may repeat). It must not keep entries' backing array.
	Build func(entries []string) *T
	// Refresh is the reload interval. Default 5s.
	Refresh time.Duration
	// Timeout bounds each Redis call. Default 2s.
	Timeout time.Duration
	// Provisional publishes the static entries alone until the set has
	// loaded once (the blacklist: better the file than nothing). Without
	// it, Load returns nil until then (the reservation list fails closed).
	Provisional bool
	// Logger already names the set (its key): the mirror's lines add only
	// what happened.
	Logger *slog.Logger
}

// Mirror is the local copy of one set.
type Mirror[T any] struct {
	o       Options[T]
	refresh atomic.Int64 // ns; may be lowered by a later user
	cur     atomic.Pointer[T]
	loaded  atomic.Bool

	mu      sync.Mutex // serializes publishing
	members []string   // the set as last loaded or written, for writes and listing
	gen     uint64     // bumped by local writes, so a reload that raced one is dropped
	card    int64      // SCARD at the last full load
	skipped int        // reloads skipped since, for large unchanged sets
	failing bool       // the last reload failed (log transitions, not every attempt)

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

const (
	defaultRefresh = 5 * time.Second
	defaultTimeout = 2 * time.Second
	// smallSet is the size up to which one SMEMBERS loads the set; larger
	// sets are read with SSCAN so Redis never blocks on one huge reply.
	smallSet = 10000
	// scanCount is the SSCAN page size.
	scanCount = 10000
	// fullEvery bounds how many refreshes a large set whose size has not
	// changed may skip reloading: SCARD catches adds and removes, not a
	// remove paired with an add, which waits at most this many intervals.
	fullEvery = 10
	// batch is the number of members per SADD/SREM.
	batch = 1000
)

// New makes a mirror. A file-only mirror, or a Provisional one, publishes
// its static snapshot at once; call Refresh for the first Redis load and
// Start for the background loop.
func New[T any](o Options[T]) *Mirror[T] {
	if o.Refresh <= 0 {
		o.Refresh = defaultRefresh
	}
	if o.Timeout <= 0 {
		o.Timeout = defaultTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Client == nil {
		o.Key = ""
	}
	m := &Mirror[T]{o: o}
	m.refresh.Store(int64(o.Refresh))
	if o.Key == "" || o.Provisional {
		m.cur.Store(o.Build(o.Static))
	}
	m.loaded.Store(o.Key == "")
	return m
}

// Load returns the current snapshot, nil when the set has never loaded
// (and the mirror is not Provisional). It never waits.
func (m *Mirror[T]) Load() *T { return m.cur.Load() }

// Loaded reports whether the Redis set has loaded at least once (always
// true for a file-only mirror).
func (m *Mirror[T]) Loaded() bool { return m.loaded.Load() }

// HasRedis reports whether the mirror copies a Redis set.
func (m *Mirror[T]) HasRedis() bool { return m.o.Key != "" }

// Key is the Redis key copied, "" for none.
func (m *Mirror[T]) Key() string { return m.o.Key }

// Static returns the file entries.
func (m *Mirror[T]) Static() []string { return m.o.Static }

// Members returns the Redis members of the local copy.
func (m *Mirror[T]) Members() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return dedupe(m.members)
}

// LowerRefresh makes the loop reload at least every d.
func (m *Mirror[T]) LowerRefresh(d time.Duration) {
	for {
		old := m.refresh.Load()
		if int64(d) >= old || m.refresh.CompareAndSwap(old, int64(d)) {
			return
		}
	}
}

// publish swaps in a snapshot of the static entries and members; the
// caller holds mu.
func (m *Mirror[T]) publish(members []string) {
	m.members = members
	all := make([]string, 0, len(m.o.Static)+len(members))
	all = append(append(all, m.o.Static...), members...)
	m.cur.Store(m.o.Build(all))
}

// writable reports whether local writes may be published now: once the
// set has loaded, or before that when the mirror is Provisional (the
// writes then join the static entries until the first load replaces
// them). The caller holds mu.
func (m *Mirror[T]) writable() bool { return m.loaded.Load() || m.o.Provisional }

func dedupe(in []string) []string {
	seen := make(map[string]struct{}, len(in))
	out := make([]string, 0, len(in))
	for _, s := range in {
		if _, ok := seen[s]; !ok {
			seen[s] = struct{}{}
			out = append(out, s)
		}
	}
	return out
}
