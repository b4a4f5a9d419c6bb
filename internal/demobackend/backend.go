// Package demobackend is a stand-in for a shop's order backend: the
// upstream that flashgate admits buyers to. `make run`, the integration
// tests and the benchmarks use it to check what reached the shop, above
// all that one Idempotency-Key never becomes two orders.
package demobackend

import (
	"math/rand/v2"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// MaxBodySize caps an order body. Orders carry a few hundred bytes; the
// cap keeps a load test with a wrong body size from eating memory.
const MaxBodySize = 64 << 10

// Options tunes the faults the backend injects. The zero value is a fast,
// reliable backend that rejects duplicate keys.
type Options struct {
	// FailRate is the fraction, in [0, 1], of new orders answered 500 and
	// not recorded, to test that the gateway releases the stock it took.
	// Default 0: never fail.
	FailRate float64
	// Latency is added to every POST /orders, to stand in for a slow
	// backend in timeout and queueing tests. Default 0.
	Latency time.Duration
	// Workers is how many orders are worked on at once (Latency each);
	// the others wait for a worker, like requests queued at a shop's
	// database pool. With Latency it caps the backend at Workers/Latency
	// orders a second (10 workers × 50 ms = 200/s). Default 0: no cap.
	Workers int
	// AllowDuplicates makes a repeated Idempotency-Key create another
	// order instead of a 409, like a backend with no idempotency, so that a
	// test can count what the gateway let through twice. It is the
	// inverse of the -reject-duplicates flag so that the zero Options is
	// the strict backend. Default false.
	AllowDuplicates bool
	// SessionSecret signs the demo sign-in's session JWTs (HS256, at
	// least 32 bytes). Default nil: /login and /logout are 404s.
	SessionSecret []byte
	// SessionTTL is how long a session lasts. Default DefaultSessionTTL.
	SessionTTL time.Duration
	// ShopName heads the sign-in page. Default "Flash Shop".
	ShopName string
}

// Backend records orders by Idempotency-Key. It is safe for concurrent
// use; one mutex is plenty for a test double that a benchmark never makes
// the bottleneck.
type Backend struct {
	opts    Options
	workers chan struct{} // Options.Workers slots; nil: no cap
	load    load

	mu         sync.Mutex
	byKey      map[string]uint64   // key -> number of its first order
	byUser     map[string]struct{} // activity + "\x00" + user of every order
	orders     uint64
	duplicates uint64
	repeats    uint64 // orders for a user who already had one in the activity
}

// New returns a Backend with no orders.
func New(opts Options) *Backend {
	if opts.SessionTTL <= 0 {
		opts.SessionTTL = DefaultSessionTTL
	}
	if opts.ShopName == "" {
		opts.ShopName = "Flash Shop"
	}
	b := &Backend{opts: opts, byKey: make(map[string]uint64), byUser: make(map[string]struct{})}
	if opts.Workers > 0 {
		b.workers = make(chan struct{}, opts.Workers)
	}
	return b
}

// Orders is the number of orders created so far.
func (b *Backend) Orders() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return int(b.orders)
}

// Duplicates is the number of order requests whose key already had an
// order, whether they were rejected or (with AllowDuplicates) recorded.
func (b *Backend) Duplicates() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return int(b.duplicates)
}

// Repeats is the number of orders created for a user who already had an
// order in the same activity (X-Activity-Id, X-User-Id): with per_user 1
// the benchmarks' "no user twice" check wants it 0.
func (b *Backend) Repeats() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return int(b.repeats)
}

// Handler serves POST /orders, GET /orders/count, GET /orders/users,
// GET and POST /orders/load, GET /healthz and, with a SessionSecret, the demo sign-in: GET and POST
// /login, GET /logout.
func (b *Backend) Handler(ctx *fasthttp.RequestCtx) {
	signIn := len(b.opts.SessionSecret) > 0
	switch string(ctx.Path()) { // converted without allocating
	case "/login":
		if !signIn {
			writeJSON(ctx, fasthttp.StatusNotFound, bodyNotFound)
			return
		}
		b.login(ctx)
	case "/logout":
		if !signIn {
			writeJSON(ctx, fasthttp.StatusNotFound, bodyNotFound)
			return
		}
		b.logout(ctx)
	case "/orders":
		if !ctx.IsPost() {
			methodNotAllowed(ctx, "POST")
			return
		}
		b.createOrder(ctx)
	case "/orders/count":
		if !ctx.IsGet() && !ctx.IsHead() {
			methodNotAllowed(ctx, "GET, HEAD")
			return
		}
		b.count(ctx)
	case "/orders/load":
		b.loadEndpoint(ctx)
	case "/orders/users":
		if !ctx.IsGet() && !ctx.IsHead() {
			methodNotAllowed(ctx, "GET, HEAD")
			return
		}
		b.users(ctx)
	case "/healthz":
		if !ctx.IsGet() && !ctx.IsHead() {
			methodNotAllowed(ctx, "GET, HEAD")
			return
		}
		ctx.SetContentType("text/plain; charset=utf-8")
		ctx.SetBodyString("ok")
	default:
		writeJSON(ctx, fasthttp.StatusNotFound, bodyNotFound)
	}
}

// fail rolls the dice for Options.FailRate. math/rand/v2's top-level
// functions are safe for concurrent use; Float64 is in [0, 1), so a rate
// of 1 always fails and 0 never does.
func (b *Backend) fail() bool {
	return b.opts.FailRate > 0 && rand.Float64() < b.opts.FailRate
}
