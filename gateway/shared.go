package gateway

import (
	"io"
	"sync"
	"sync/atomic"
)

// SharedKey names a value of type T that one instance's filters,
// endpoints and admin calls share: a key ring, a blacklist copy, the
// reservation lists, a limiter table. The package that owns the value
// declares the key once, as a package-level variable, so nothing else
// can build the value under it and every reader gets a T, never an any:
//
//	var hubKey = gateway.NewSharedKey[*hub]("reservation")
//
// Keys of different types never collide, even with the same name.
type SharedKey[T any] struct{ name string }

// NewSharedKey returns the key name for values of type T.
func NewSharedKey[T any](name string) SharedKey[T] { return SharedKey[T]{name: name} }

// With is the key of one of several values of the same type, told apart
// by id (one blacklist copy per redis_key and file, for instance).
func (k SharedKey[T]) With(id string) SharedKey[T] { return SharedKey[T]{name: k.name + ":" + id} }

// Share returns the value under k, building it once per instance, so
// that several routes share one blacklist or one key ring. A value that
// implements io.Closer is closed with the instance.
func Share[T any](env *Env, k SharedKey[T], build func() (T, error)) (T, error) {
	return get(env.shared, k, nil, false, build)
}

// Keep is Share for state worth keeping across a reload (rate-limit
// buckets): when the instance being replaced holds a value under k built
// with an equal fingerprint, the new instance takes over that very value
// instead of building a fresh one. fingerprint must be comparable and
// hold every setting that shapes the value. A kept io.Closer is closed
// when the last instance holding it closes.
func Keep[T any](env *Env, k SharedKey[T], fingerprint any, build func() (T, error)) (T, error) {
	return get(env.shared, k, fingerprint, true, build)
}

// Shared returns the value an instance's build put under k. It reads the
// table the build froze (Instance.freeze), so it takes no lock: admin
// calls and anything else that runs after the build use it.
func Shared[T any](in *Instance, k SharedKey[T]) (T, bool) {
	var zero T
	if in == nil {
		return zero, false
	}
	v, ok := in.plan[k]
	if !ok {
		return zero, false
	}
	t, ok := v.(T)
	return t, ok
}

func get[T any](s *shared, k SharedKey[T], fingerprint any, keep bool, build func() (T, error)) (T, error) {
	v, err := s.get(k, fingerprint, keep, func() (any, error) { return build() })
	if err != nil {
		var zero T
		return zero, err
	}
	return v.(T), nil // keyed by SharedKey[T]: only a T is ever stored
}

// shared is one instance's table of shared values while it is built.
// During a reload's build, prev is the running instance's table, from
// which kept values are taken over.
type shared struct {
	mu      sync.Mutex
	m       map[any]any
	fp      map[any]any // fingerprints of the values built by Keep
	refs    map[any]*ref
	closers []*ref
	prev    *shared
}

// ref counts the instances holding a closable shared value.
type ref struct {
	c io.Closer
	n atomic.Int32
}

func newShared() *shared {
	return &shared{m: map[any]any{}, fp: map[any]any{}, refs: map[any]*ref{}}
}

func (s *shared) get(key, fingerprint any, keep bool, build func() (any, error)) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.m[key]; ok {
		return v, nil
	}
	if keep && s.prev != nil {
		if v, r, ok := s.prev.lend(key, fingerprint); ok {
			s.m[key], s.fp[key] = v, fingerprint
			if r != nil {
				s.refs[key] = r
				s.closers = append(s.closers, r)
			}
			return v, nil
		}
	}
	v, err := build()
	if err != nil {
		return nil, err
	}
	s.m[key] = v
	if keep {
		s.fp[key] = fingerprint
	}
	if c, ok := v.(io.Closer); ok {
		r := &ref{c: c}
		r.n.Store(1)
		s.refs[key] = r
		s.closers = append(s.closers, r)
	}
	return v, nil
}

// lend returns the value under key when it was built by Keep with the
// same fingerprint, counting one more holder of it.
func (s *shared) lend(key, fingerprint any) (any, *ref, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fp, kept := s.fp[key]
	if !kept || fp != fingerprint {
		return nil, nil, false
	}
	r := s.refs[key]
	if r != nil {
		r.n.Add(1)
	}
	return s.m[key], r, true
}

// freeze returns a copy of the table for the built instance to read
// without a lock.
func (s *shared) freeze() map[any]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[any]any, len(s.m))
	for k, v := range s.m {
		out[k] = v
	}
	return out
}

func (s *shared) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.closers) - 1; i >= 0; i-- {
		if r := s.closers[i]; r.n.Add(-1) == 0 {
			_ = r.c.Close()
		}
	}
	s.closers = nil
	s.prev = nil
}
