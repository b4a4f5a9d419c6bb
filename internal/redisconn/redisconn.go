// Package redisconn opens the rueidis clients of a flashgate process, from
// the redis section of the config.
//
// A serving process opens two clients (OpenClients), and every call on
// either waits no longer than its own ctx (see bound.go). Both measures
// answer one failure: with redis-server frozen, a request-path call that
// should fail at redis.timeout (100 ms) waited about redis.dial_timeout
// (0.7–0.95 s) instead, whenever a background loop had started redialling
// the connection the call was queued for.
//
// The cause is in rueidis (v1.0.79, mux.go `_pipe`): each of a client's
// pipelined connections is redialled by the first caller that finds it
// broken, and every other caller of that connection waits for that dial on
// a sync.WaitGroup, whatever its own ctx says. The dial, TCP connect plus
// the HELLO handshake, is bounded only by the dialling caller's ctx, capped
// at Dialer.Timeout (dial_timeout). A frozen Redis breaks each connection
// every ConnWriteTimeout (the writer's deadline on pending replies), and a
// kernel still accepts TCP connections for a stopped process, so each
// redial hangs in HELLO until its bound: 1 s when the dialler was a
// blacklist reload (2 s timeout), the stock listener (no deadline) or a
// Take settling in the background (SettleTimeout), 100 ms when it was a
// request.
//
//   - The Request client serves the request path only: stock decisions,
//     single_use claims, distributed limits. The Background client serves
//     every loop (blacklist and reservation reloads, the stock store's
//     listener, sync, reconcile and abandon passes) and the admin API, so
//     their long-deadline dials, their large replies (SMEMBERS of a big
//     set) and the pub/sub subscription never sit on a connection the
//     request path is queued for.
//   - Separation alone is not enough: request-path calls with different
//     bounds share the Request client (a single_use check bounded at 50 ms
//     would wait on a stock call's 100 ms dial), and a Take settling in the
//     background runs with SettleTimeout. So each client is wrapped to
//     return when the caller's ctx is done even if rueidis is still waiting
//     for a dial; see bound.go.
//
// A serving process does not need Redis to start: when it is unreachable,
// both clients connect in the background and fail closed meanwhile (see
// lazy.go).
package redisconn

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/redis/rueidis"

	"github.com/flashgate/flashgate/conf"
)

// Clients are the two clients of a serving process. Both are nil when no
// Redis is configured.
type Clients struct {
	// Request is for calls a request waits for.
	Request rueidis.Client
	// Background is for loops, admin calls and anything else no request
	// waits for.
	Background rueidis.Client
}

// Close closes both clients.
func (c Clients) Close() {
	if c.Request != nil {
		c.Request.Close()
	}
	if c.Background != nil {
		c.Background.Close()
	}
}

// OpenClients connects the Request and the Background client of a serving
// process to the configured Redis (standalone or cluster, detected by
// rueidis). It returns zero Clients and no error when no addresses are
// configured.
//
// Redis unreachable is not an error here: the clients connect in the
// background (see lazy.go) and the process serves meanwhile, failing
// closed on everything that needs Redis; OpenClients logs it once. A
// refusal by Redis itself (a wrong password, say) and a bad TLS setting
// are errors: retrying cannot fix them.
func OpenClients(c conf.Redis, log *slog.Logger) (Clients, error) {
	if len(c.Addrs) == 0 {
		return Clients{}, nil
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	rq, down, err := openLazy(c, log.With("client", "request"), nil)
	if err != nil {
		return Clients{}, err
	}
	// Redis found unreachable: the second client does not dial again
	// now (a Redis that drops packets would cost the start another
	// dial_timeout); it dials in the background like the first.
	bg, bgDown, err := openLazy(c, log.With("client", "background"), down)
	if err != nil {
		rq.Close()
		return Clients{}, err
	}
	if down == nil {
		down = bgDown // Redis went away between the two dials
	}
	if down != nil {
		log.Warn("redis unreachable: serving without it until it answers (purchases and every other Redis call fail closed, 503; /readyz?require=redis is not ready)",
			"addrs", c.Addrs, "err", down)
	}
	return Clients{Request: rq, Background: bg}, nil
}

// Open connects one client, for a command that runs once (warm, check):
// no request path shares it, and Redis unreachable is an error at once. It
// returns nil, nil when no addresses are configured. Its calls wait no
// longer than their ctx (see bound.go).
func Open(c conf.Redis) (rueidis.Client, error) {
	if len(c.Addrs) == 0 {
		return nil, nil
	}
	cl, err := dial(c)
	if err != nil {
		return nil, err
	}
	return Bound(cl, c.DialTimeout, DefaultMaxWaiting), nil
}

// openLazy is Open for a serving process: when the first dial finds Redis
// unreachable, it returns a client that keeps dialling in the background
// (see lazy.go), and that dial's error as down. With known set (Redis
// just found unreachable) it does not dial first.
func openLazy(c conf.Redis, log *slog.Logger, known error) (cl rueidis.Client, down, err error) {
	if _, err := tlsConfig(c.TLS); err != nil {
		return nil, nil, err
	}
	err = known
	if err == nil {
		rc, derr := dial(c)
		if derr == nil {
			return Bound(rc, c.DialTimeout, DefaultMaxWaiting), nil, nil
		}
		err = derr
	}
	if !unreachable(err) || !lazyBuilderOK {
		return nil, nil, err
	}
	l := newLazy(func() (rueidis.Client, error) { return dial(c) }, err, log)
	return Bound(l, c.DialTimeout, DefaultMaxWaiting), err, nil
}

// unreachable says whether a dial's error may pass by itself: anything but
// Redis refusing us (an error reply, such as WRONGPASS), a server whose
// certificate redis.tls does not accept (another CA, another name), one
// that answered a TLS hello in plain text, and rueidis refusing the
// options. Those are settings to fix: the start fails, so a rollout to a
// wrong Redis stops at its first pod. A refused connection, a timeout or
// an unresolvable host name is what an outage looks like (a stopped
// server, a Kubernetes service without ready endpoints), so it waits; so
// do, unavoidably, two mistakes that look the same on the wire: TLS on
// against a plain redis-server (it waits for a command and never
// answers the hello: a timeout) and a client certificate the server
// wants (TLS 1.3 resets the connection after the handshake).
func unreachable(err error) bool {
	var (
		re   *rueidis.RedisError
		ca   x509.UnknownAuthorityError
		name x509.HostnameError
		bad  x509.CertificateInvalidError
		rec  tls.RecordHeaderError
	)
	switch {
	case errors.As(err, &re), errors.Is(err, rueidis.ErrWrongPipelineMultiplex),
		errors.As(err, &ca), errors.As(err, &name), errors.As(err, &bad), errors.As(err, &rec):
		return false
	}
	return true
}

// dial makes one rueidis client, connected.
func dial(c conf.Redis) (rueidis.Client, error) {
	tc, err := tlsConfig(c.TLS)
	if err != nil {
		return nil, err
	}
	cl, err := rueidis.NewClient(rueidis.ClientOption{
		InitAddress: c.Addrs,
		// TLSConfig nil is plain TCP; crypto/tls checks each address's
		// host name when ServerName is empty.
		TLSConfig: tc,
		Username:  c.Username,
		Password:  c.Password,
		// Client-side caching is not used on the request path; turning it
		// off keeps RESP2 servers and proxies working too.
		DisableCache: true,
		// A connection whose replies are this late is broken: it is closed
		// and redialled. Calls never wait for it (their ctx is shorter);
		// this only bounds how long a dead peer holds a connection.
		ConnWriteTimeout:  c.Timeout + time.Second,
		Dialer:            dialer(c.DialTimeout),
		BlockingPoolSize:  blockingPool(c),
		PipelineMultiplex: 2,
	})
	if err != nil {
		return nil, fmt.Errorf("redis %v: %w%s", c.Addrs, err, authHint(err))
	}
	return cl, nil
}

// authHint names the settings to fix when Redis refused our credentials:
// its own text (NOAUTH HELLO must be called...) names none of them.
func authHint(err error) string {
	var re *rueidis.RedisError
	if !errors.As(err, &re) {
		return ""
	}
	switch msg := re.Error(); {
	case strings.HasPrefix(msg, "NOAUTH"):
		return " (Redis wants a password: set redis.password, or FLASHGATE_REDIS_PASSWORD, and redis.username for an ACL user)"
	case strings.HasPrefix(msg, "WRONGPASS"):
		return " (check redis.username and redis.password, or FLASHGATE_REDIS_PASSWORD)"
	}
	return ""
}

// blockingPool is rueidis's BlockingPoolSize: the connections a command
// that blocks gets to itself. flashgate blocks only in WAIT
// (redis.wait_replicas), which holds one connection from the stock
// script to the replicas' acknowledgement, so the pool bounds a process's
// acknowledged Takes to pool / latency (BenchmarkRedisWait, stock: 4
// connections cost a third more per Take on loopback than 16 to 256).
// 64 keeps room for a replica a network hop away; without the wait, 4.
func blockingPool(c conf.Redis) int {
	if c.WaitReplicas > 0 {
		return 64
	}
	return 4
}
