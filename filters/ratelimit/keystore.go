package ratelimit

import (
	"hash/maphash"
	"sync"

	"github.com/flashgate/flashgate/internal/bytesconv"
)

// keyStore maps keys (IPs, users) to buckets. It is sharded so that
// requests for different keys rarely meet on a lock, and looked up with
// the request's key bytes viewed as a string, so the path for a key it
// already holds allocates nothing.
//
// Memory is bounded twice: the janitor drops idle buckets (a bucket whose
// value is in the past is indistinguishable from a fresh one, so dropping
// it loses nothing), and a shard that reaches its share of max_keys drops
// its oldest key to make room (that key starts again with a full bucket).
type keyStore struct {
	seed   maphash.Seed
	shards []shard
	limit  int // keys per shard
}

type shard struct {
	mu sync.RWMutex
	m  map[string]*slot
	// order lists the keys in insertion order, oldest first, to evict
	// beyond the cap. Only evictOldest and sweep delete keys, and both
	// keep it exact.
	order []string
	_     [64]byte // keep neighbouring shards' locks off one cache line
}

const maxShards = 64

func newKeyStore(maxKeys int) *keyStore {
	n := min(maxShards, maxKeys)
	ks := &keyStore{seed: maphash.MakeSeed(), shards: make([]shard, n), limit: (maxKeys + n - 1) / n}
	for i := range ks.shards {
		ks.shards[i].m = make(map[string]*slot)
	}
	return ks
}

func (ks *keyStore) shard(key []byte) *shard {
	return &ks.shards[maphash.Bytes(ks.seed, key)%uint64(len(ks.shards))]
}

// lookup returns the bucket of key, or nil.
func (ks *keyStore) lookup(key []byte) *slot {
	sh := ks.shard(key)
	sh.mu.RLock()
	s := sh.m[bytesconv.String(key)]
	sh.mu.RUnlock()
	return s
}

// get returns the bucket of key, creating it (the only allocating path).
func (ks *keyStore) get(key []byte) *slot {
	if s := ks.lookup(key); s != nil {
		return s
	}
	sh := ks.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if s := sh.m[bytesconv.String(key)]; s != nil {
		return s
	}
	for len(sh.m) >= ks.limit {
		sh.evictOldest()
	}
	k := string(key)
	s := new(slot)
	sh.m[k] = s
	sh.order = append(sh.order, k)
	return s
}

// take runs GCRA on key's bucket.
func (ks *keyStore) take(key []byte, g gcra, c *clock) int64 {
	for {
		wait, retry := g.take(&ks.get(key).v, c)
		if !retry {
			return wait
		}
	}
}

// until returns key's value, 0 when the key is absent.
func (ks *keyStore) until(key []byte) int64 {
	if s := ks.lookup(key); s != nil {
		return s.v.Load() // evicted is negative: reads as "not blocked"
	}
	return 0
}

// raise records that key is over its limit until until.
func (ks *keyStore) raise(key []byte, until int64) {
	for raise(&ks.get(key).v, until) {
	}
}

// evictOldest drops the oldest key of the shard; the caller holds mu.
func (sh *shard) evictOldest() {
	for len(sh.order) > 0 {
		k := sh.order[0]
		sh.order[0] = ""
		sh.order = sh.order[1:]
		if s, ok := sh.m[k]; ok {
			s.v.Store(evicted)
			delete(sh.m, k)
			return
		}
	}
}

// sweep drops every bucket whose value is at or before now (full buckets,
// expired over-limit marks) and reports how many keys remain.
func (ks *keyStore) sweep(now int64) (kept int) {
	for i := range ks.shards {
		sh := &ks.shards[i]
		sh.mu.Lock()
		dropped := false
		for k, s := range sh.m {
			if v := s.v.Load(); v <= now && s.v.CompareAndSwap(v, evicted) {
				delete(sh.m, k)
				dropped = true
			}
		}
		if dropped {
			order := make([]string, 0, len(sh.m))
			for _, k := range sh.order {
				if _, ok := sh.m[k]; ok {
					order = append(order, k)
				}
			}
			sh.order = order
		}
		kept += len(sh.m)
		sh.mu.Unlock()
	}
	return kept
}

// len counts the keys held.
func (ks *keyStore) len() (n int) {
	for i := range ks.shards {
		sh := &ks.shards[i]
		sh.mu.RLock()
		n += len(sh.m)
		sh.mu.RUnlock()
	}
	return n
}
