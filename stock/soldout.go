package stock

import "sync/atomic"

// emptySet is the local knowledge of which shards of one activity are
// empty: one bit per shard, read and written with atomics only, so the
// sold-out check on the hot path takes no lock and allocates nothing.
//
// A bit is only a hint. It is set when a shard answered "empty" and cleared
// when stock comes back (a Release or TopUp here, a pub/sub message or the
// sync loop's re-read for the Redis store). Correctness never depends on
// it: Redis scripts and the memory store's CAS decide, the bits only decide
// whether to ask.
type emptySet struct {
	n     int
	words []atomic.Uint64
	last  uint64 // mask of the valid bits of the last word
}

func newEmptySet(n int) emptySet {
	e := emptySet{n: n, words: make([]atomic.Uint64, (n+63)/64)}
	if r := n % 64; r == 0 {
		e.last = ^uint64(0)
	} else {
		e.last = 1<<r - 1
	}
	return e
}

func (e *emptySet) set(i int) { e.words[i>>6].Or(1 << (uint(i) & 63)) }

func (e *emptySet) clear(i int) { e.words[i>>6].And(^(uint64(1) << (uint(i) & 63))) }

func (e *emptySet) has(i int) bool { return e.words[i>>6].Load()&(1<<(uint(i)&63)) != 0 }

// all reports whether every shard is marked empty.
func (e *emptySet) all() bool {
	last := len(e.words) - 1
	for i := 0; i < last; i++ {
		if e.words[i].Load() != ^uint64(0) {
			return false
		}
	}
	return e.words[last].Load() == e.last
}

// reset marks every shard as having stock.
func (e *emptySet) reset() {
	for i := range e.words {
		e.words[i].Store(0)
	}
}

// marked returns the indexes of the shards marked empty, appended to buf.
func (e *emptySet) marked(buf []int) []int {
	for i := 0; i < e.n; i++ {
		if e.has(i) {
			buf = append(buf, i)
		}
	}
	return buf
}
