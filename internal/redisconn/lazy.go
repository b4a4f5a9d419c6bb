package redisconn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/redis/rueidis"
)

// ErrNotConnected is the error of every call a lazy client gets before its
// first connection: Redis was unreachable when the process started and
// has not answered since. Callers fail closed on it as on any Redis error.
var ErrNotConnected = errors.New("redisconn: Redis not connected yet")

// lazy is a client whose first connection is made in the background.
//
// Why: rueidis.NewClient connects before it returns (it asks the first
// address whether it is a cluster), so a gateway restarted while Redis is
// down would not start at all, and its product pages, which need no Redis,
// would go dark with the purchases. With lazy, serve starts at once:
// pages and everything else local serve, purchases and every other Redis
// call fail closed with ErrNotConnected (503 busy, as with Redis down),
// readiness with ?require=redis says not ready, and the first successful
// dial swaps the real client in, after which lazy only forwards.
type lazy struct {
	real atomic.Pointer[rueidis.Client] // nil until connected

	dial func() (rueidis.Client, error)
	log  *slog.Logger

	mu     sync.Mutex // guards closed and last
	closed bool
	last   error // the last dial's error, for ErrNotConnected's message

	stop chan struct{}
	done chan struct{}
}

// lazyRetry paces the background dials: first after min, doubling up to
// max; while they fail, a reminder is logged every remind.
var lazyRetry = struct{ min, max, remind time.Duration }{250 * time.Millisecond, 5 * time.Second, 30 * time.Second}

// newLazy returns a client that dials in the background until dial
// succeeds. first is the error of the dial the caller already tried.
func newLazy(dial func() (rueidis.Client, error), first error, log *slog.Logger) *lazy {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	l := &lazy{dial: dial, log: log, last: first, stop: make(chan struct{}), done: make(chan struct{})}
	go l.connect()
	return l
}

func (l *lazy) connect() {
	defer close(l.done)
	wait, logged := lazyRetry.min, time.Now()
	for {
		t := time.NewTimer(wait)
		select {
		case <-l.stop:
			t.Stop()
			return
		case <-t.C:
		}
		c, err := l.dial()
		if err == nil {
			l.mu.Lock()
			if l.closed {
				l.mu.Unlock()
				c.Close()
				return
			}
			l.real.Store(&c)
			l.mu.Unlock()
			l.log.Info("redis connected")
			return
		}
		l.mu.Lock()
		l.last = err
		l.mu.Unlock()
		if time.Since(logged) >= lazyRetry.remind {
			l.log.Warn("redis still unreachable", "err", err)
			logged = time.Now()
		}
		wait = min(2*wait, lazyRetry.max)
	}
}

func (l *lazy) client() rueidis.Client {
	if p := l.real.Load(); p != nil {
		return *p
	}
	return nil
}

func (l *lazy) notConnected() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return rueidis.ErrClosing
	}
	return fmt.Errorf("%w: %v", ErrNotConnected, l.last)
}

// B returns the real client's builder once connected, and before that a
// cluster client's: its commands are valid for either kind of client (a
// standalone client ignores their slot), so a command built just before
// the swap and sent just after it goes out right.
func (l *lazy) B() rueidis.Builder {
	if c := l.client(); c != nil {
		return c.B()
	}
	return clusterBuilder
}

func (l *lazy) Do(ctx context.Context, cmd rueidis.Completed) rueidis.RedisResult {
	if c := l.client(); c != nil {
		return c.Do(ctx, cmd)
	}
	return rueidis.NewErrorResult(l.notConnected())
}

func (l *lazy) DoMulti(ctx context.Context, multi ...rueidis.Completed) []rueidis.RedisResult {
	if c := l.client(); c != nil {
		return c.DoMulti(ctx, multi...)
	}
	return errorResults(len(multi), l.notConnected())
}

func (l *lazy) Receive(ctx context.Context, subscribe rueidis.Completed, fn func(rueidis.PubSubMessage)) error {
	if c := l.client(); c != nil {
		return c.Receive(ctx, subscribe, fn)
	}
	return l.notConnected()
}

func (l *lazy) DoCache(ctx context.Context, cmd rueidis.Cacheable, ttl time.Duration) rueidis.RedisResult {
	if c := l.client(); c != nil {
		return c.DoCache(ctx, cmd, ttl)
	}
	return rueidis.NewErrorResult(l.notConnected())
}

func (l *lazy) DoMultiCache(ctx context.Context, multi ...rueidis.CacheableTTL) []rueidis.RedisResult {
	if c := l.client(); c != nil {
		return c.DoMultiCache(ctx, multi...)
	}
	return errorResults(len(multi), l.notConnected())
}

func (l *lazy) DoStream(ctx context.Context, cmd rueidis.Completed) rueidis.RedisResultStream {
	if c := l.client(); c != nil {
		return c.DoStream(ctx, cmd)
	}
	return rueidis.RedisResultStream{}
}

func (l *lazy) DoMultiStream(ctx context.Context, multi ...rueidis.Completed) rueidis.MultiRedisResultStream {
	if c := l.client(); c != nil {
		return c.DoMultiStream(ctx, multi...)
	}
	return rueidis.MultiRedisResultStream{}
}

func (l *lazy) Dedicated(fn func(rueidis.DedicatedClient) error) error {
	if c := l.client(); c != nil {
		return c.Dedicated(fn)
	}
	return l.notConnected()
}

func (l *lazy) Dedicate() (rueidis.DedicatedClient, func()) {
	if c := l.client(); c != nil {
		return c.Dedicate()
	}
	panic("redisconn: Dedicate before Redis connected") // flashgate never dedicates
}

func (l *lazy) Nodes() map[string]rueidis.Client {
	if c := l.client(); c != nil {
		return c.Nodes()
	}
	return nil
}

func (l *lazy) Mode() rueidis.ClientMode {
	if c := l.client(); c != nil {
		return c.Mode()
	}
	return rueidis.ClientModeStandalone
}

// Close stops the background dials and closes the real client if one
// connected; calls after it fail with rueidis.ErrClosing.
func (l *lazy) Close() {
	l.mu.Lock()
	already := l.closed
	l.closed = true
	l.mu.Unlock()
	if already {
		return
	}
	close(l.stop)
	<-l.done
	if c := l.client(); c != nil {
		c.Close()
	}
}

// clusterBuilder is what a rueidis cluster client's B() returns:
// cmds.Builder{ks: cmds.InitSlot}, which rueidis (v1.0.79) does not let
// other packages make. It is set through its one uint16 field;
// lazyBuilderOK says whether the layout is still that one (a rueidis
// upgrade that changed it turns lazy connecting off, and
// TestClusterBuilderMatchesRueidis fails), so nothing is ever written
// into a field of another shape.
var clusterBuilder, lazyBuilderOK = makeClusterBuilder()

func makeClusterBuilder() (rueidis.Builder, bool) {
	var b rueidis.Builder
	t := reflect.TypeOf(b)
	if t.Kind() != reflect.Struct || t.NumField() != 1 || t.Field(0).Type.Kind() != reflect.Uint16 || t.Size() != 2 {
		return b, false
	}
	const initSlot = uint16(1 << 14) // cmds.InitSlot
	*(*uint16)(unsafe.Pointer(&b)) = initSlot
	return b, true
}
