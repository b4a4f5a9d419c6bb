package userset

import (
	"context"
	"errors"
	"time"

	"github.com/redis/rueidis"

	"github.com/flashgate/flashgate/internal/redisfence"
)

// ErrNoRedis is returned by writes to a file-only mirror.
var ErrNoRedis = errors.New("no Redis set is configured")

// Refresh reloads the set from Redis and publishes it, or keeps the last
// copy and returns the error. A large set whose size is unchanged is
// reloaded only every fullEvery calls.
func (m *Mirror[T]) Refresh(ctx context.Context) error {
	if m.o.Key == "" {
		return nil
	}
	m.mu.Lock()
	gen := m.gen
	m.mu.Unlock()

	c := m.o.Client
	card, err := m.do(ctx, c.B().Scard().Key(m.o.Key).Build()).AsInt64()
	if err != nil {
		return err
	}
	m.mu.Lock()
	skip := m.loaded.Load() && card > smallSet && card == m.card && m.skipped < fullEvery-1
	if skip {
		m.skipped++
	}
	m.mu.Unlock()
	if skip {
		return nil
	}

	var members []string
	if card <= smallSet {
		members, err = m.do(ctx, c.B().Smembers().Key(m.o.Key).Build()).AsStrSlice()
	} else {
		members, err = m.scan(ctx, int(card))
	}
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.gen != gen {
		return nil // a local write landed meanwhile; the next reload sees it
	}
	m.card, m.skipped = card, 0
	m.publish(members)
	m.loaded.Store(true)
	return nil
}

// scan reads a large set page by page.
func (m *Mirror[T]) scan(ctx context.Context, sizeHint int) ([]string, error) {
	out := make([]string, 0, sizeHint)
	cursor := uint64(0)
	for {
		e, err := m.do(ctx, m.o.Client.B().Sscan().Key(m.o.Key).Cursor(cursor).Count(scanCount).Build()).AsScanEntry()
		if err != nil {
			return nil, err
		}
		out = append(out, e.Elements...)
		if cursor = e.Cursor; cursor == 0 {
			return out, nil
		}
	}
}

// do runs one command within the mirror's timeout.
func (m *Mirror[T]) do(ctx context.Context, cmd rueidis.Completed) rueidis.RedisResult {
	ctx, cancel := context.WithTimeout(ctx, m.o.Timeout)
	defer cancel()
	return m.o.Client.Do(ctx, cmd)
}

// Add writes entries to the Redis set in batches, then, when every batch
// succeeded, to the local copy (see writable; otherwise the next reload
// brings them). It returns how many were new to Redis.
func (m *Mirror[T]) Add(ctx context.Context, entries []string) (int64, error) {
	n, err := m.write(ctx, entries, addScript)
	if err == nil {
		m.mu.Lock()
		m.gen++
		if m.writable() {
			m.publish(append(m.members[:len(m.members):len(m.members)], entries...))
		}
		m.mu.Unlock()
	}
	return n, err
}

// Remove deletes entries from the Redis set, then from the local copy.
func (m *Mirror[T]) Remove(ctx context.Context, entries []string) (int64, error) {
	n, err := m.write(ctx, entries, removeScript)
	if err == nil {
		gone := make(map[string]struct{}, len(entries))
		for _, e := range entries {
			gone[e] = struct{}{}
		}
		m.mu.Lock()
		m.gen++
		if m.writable() {
			kept := make([]string, 0, len(m.members))
			for _, s := range m.members {
				if _, ok := gone[s]; !ok {
					kept = append(kept, s)
				}
			}
			m.publish(kept)
		}
		m.mu.Unlock()
	}
	return n, err
}

// The operators' writes are fenced (internal/redisfence): a batch that
// Redis runs only after the call gave up is refused, so an error means
// the batch under way did not land later (earlier batches did: adds and
// removes are idempotent, so the call can be repeated).
var (
	addScript    = rueidis.NewLuaScript(redisfence.Prologue + `return redis.call('SADD', KEYS[1], unpack(ARGV, 2))`)
	removeScript = rueidis.NewLuaScript(redisfence.Prologue + `return redis.call('SREM', KEYS[1], unpack(ARGV, 2))`)
)

func (m *Mirror[T]) write(ctx context.Context, entries []string, script *rueidis.Lua) (int64, error) {
	if m.o.Key == "" {
		return 0, ErrNoRedis
	}
	var n int64
	for len(entries) > 0 {
		b := entries[:min(batch, len(entries))]
		entries = entries[len(b):]
		k, err := m.fenced(ctx, script, b)
		if err != nil {
			return n, err
		}
		n += k
	}
	return n, nil
}

// fenced runs one batch of a write script within the mirror's timeout.
func (m *Mirror[T]) fenced(ctx context.Context, script *rueidis.Lua, members []string) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, m.o.Timeout)
	defer cancel()
	return redisfence.Exec(ctx, m.o.Client, script, m.o.Key, members...)
}

// Count is the size of the Redis set.
func (m *Mirror[T]) Count(ctx context.Context) (int64, error) {
	if m.o.Key == "" {
		return 0, ErrNoRedis
	}
	return m.do(ctx, m.o.Client.B().Scard().Key(m.o.Key).Build()).AsInt64()
}

// Start runs the reload loop until Close. A file-only mirror needs none.
func (m *Mirror[T]) Start() {
	if m.o.Key == "" || m.stop != nil {
		return
	}
	m.stop, m.done = make(chan struct{}), make(chan struct{})
	go m.loop()
}

func (m *Mirror[T]) loop() {
	defer close(m.done)
	// A reload in flight when Close comes is cancelled, not waited for.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-m.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	t := time.NewTimer(m.next())
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
		}
		m.refreshAndLog(ctx)
		t.Reset(m.next())
	}
}

// firstLoadRetry is how soon a mirror that has never loaded its set tries
// again (Redis was down when the gateway started): a ban kept in Redis
// applies within about this of Redis answering, not a whole refresh
// later, while the gateway is already selling again.
const firstLoadRetry = 250 * time.Millisecond

// next is the wait before the next reload.
func (m *Mirror[T]) next() time.Duration {
	d := time.Duration(m.refresh.Load())
	if !m.Loaded() {
		d = min(d, firstLoadRetry)
	}
	return d
}

// refreshAndLog reloads and logs only changes of state, so an outage
// costs two log lines, not one per interval.
func (m *Mirror[T]) refreshAndLog(ctx context.Context) {
	err := m.Refresh(ctx)
	if ctx.Err() != nil {
		return // closing
	}
	m.mu.Lock()
	was := m.failing
	m.failing = err != nil
	m.mu.Unlock()
	switch {
	case err != nil && !was:
		m.o.Logger.Warn("reloading a Redis set failed; keeping the last copy", "loaded", m.Loaded(), "err", err)
	case err == nil && was:
		m.o.Logger.Info("reloading a Redis set works again")
	}
}

// Close stops the loop; it may be called more than once.
func (m *Mirror[T]) Close() error {
	m.once.Do(func() {
		if m.stop != nil {
			close(m.stop)
			<-m.done
		}
	})
	return nil
}
