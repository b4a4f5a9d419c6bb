package forward

import (
	"context"
	"time"

	"github.com/flashgate/flashgate/stock"
)

// The types a queue works with: an order, what delivers it, its life and
// its pace. The queue itself is in queue.go.

// Order is one admitted order waiting for delivery. The gateway copies
// what it needs out of the request; nothing here points into a fasthttp
// buffer.
type Order struct {
	// Ticket is the order's idempotency key ("activity:user:seq"): the
	// client polls it and the backend deduplicates on it.
	Ticket   string
	Activity string
	User     string
	Seq      int64
	// Method, Path, Body and Header are the request the backend is
	// sent (Path already rewritten); Header holds name, value pairs as
	// the client sent them: the sender strips hop-by-hop and identity
	// headers and sets its own.
	Method string
	Path   string
	Body   []byte
	Header [][2]string
}

// Reply is the backend's answer to one send.
type Reply struct {
	Status int
	Body   []byte // owned by the caller from then on
	// RetryAfter is the answer's Retry-After (0: none, or unreadable):
	// on a 429 or a 503 it is the backend asking to be left alone that
	// long (see classify).
	RetryAfter time.Duration
}

// Sender delivers one order once. It returns the backend's answer, or an
// error when no answer came: unreachable, refused, timed out or a broken
// connection. An error is retried, since the order is sent again with
// the same Idempotency-Key.
type Sender interface {
	Send(ctx context.Context, o *Order) (Reply, error)
}

// Releaser gives the order's stock unit back once the order is
// dead-lettered. Queue calls it at most once per order.
type Releaser func(ctx context.Context, o *Order) error

// State is where an order is in its life.
type State uint8

const (
	Queued    State = iota + 1 // waiting, or being delivered, or waiting for a retry
	Delivered                  // the backend answered 2xx or 409 (it has the key)
	Failed                     // dead-lettered; its unit was given back, unless Reason is ReasonUnconfirmed
)

func (s State) String() string {
	switch s {
	case Queued:
		return "queued"
	case Delivered:
		return "delivered"
	case Failed:
		return "failed"
	}
	return "unknown"
}

// Reasons of a Failed order.
const (
	ReasonRejected  = "backend_rejected"   // a 4xx other than 409 and 429, or a 3xx
	ReasonExhausted = "attempts_exhausted" // every attempt failed or got 5xx
	ReasonExpired   = "expired"            // not delivered within MaxWait of its admission
	// ReasonUnconfirmed: attempts exhausted or max_wait passed, and at
	// least one send got no answer (a timeout, a connection broken after
	// sending): the backend may hold the order, so its unit is NOT given
	// back (it would sell twice). It stays sold until the backend
	// releases it (POST .../release) or, with pay_within, goes unpaid.
	ReasonUnconfirmed = "unconfirmed"
)

// Unconfirmed is the reason an order that would be dead-lettered with
// reason gets when some send of it went unanswered: its unit may be an
// order at the backend, so it stays sold (ReasonUnconfirmed). A
// backend_rejected order counts too: after a send that went unanswered,
// a 4xx that is not 409 may come from a proxy in front of the backend (a
// 404 during its deploy) rather than from a backend that has no such
// order, which would have said 409 for a key it has. Malformed orders
// were never sent.
func Unconfirmed(reason string, unanswered bool) string {
	if unanswered && (reason == ReasonExhausted || reason == ReasonExpired || reason == ReasonRejected) {
		return ReasonUnconfirmed
	}
	return reason
}

// Status is what order_status tells the ticket's user.
type Status struct {
	State  State
	Code   int    // the backend's last status (0 if it never answered)
	Body   []byte // the backend's last body
	Reason string // why it failed (Failed only)
	// Attempts counts the sends that used an attempt (see classify): not
	// those refused by the breaker, unreachable, or answered 429 / 503
	// with Retry-After.
	Attempts int
}

// Config sets the pace. Zero fields take the defaults below.
type Config struct {
	// Rate is deliveries per second from this queue. Required, > 0.
	Rate float64
	// MaxInflight bounds deliveries under way at once. Default 32.
	MaxInflight int
	// Attempts is how many sends the backend may have seen (answered
	// 5xx, or no answer after sending) an order gets before it is
	// dead-lettered. Default 6.
	Attempts int
	// Backoff is the wait before the first retry, doubling per failed
	// send with jitter, capped at BackoffMax. Defaults 200ms and 10s.
	Backoff, BackoffMax time.Duration
	// MaxWait bounds an order's retries: one whose next send would start
	// more than MaxWait after its admission is dead-lettered (expired).
	// Default 10m.
	MaxWait time.Duration
	// Capacity bounds the orders not yet finished; Enqueue beyond it
	// fails with ErrFull. It also bounds how many finished statuses are
	// kept for polling. Default 65536.
	Capacity int
	// SendTimeout bounds one Send. Default 10s.
	SendTimeout time.Duration

	// Check, when set, is the held-mark check (the memory store's
	// CheckOrder): asked before every send, an order whose unit was given
	// back (OrderGone, OrderUnpaid) or whose sale was reset is dropped,
	// never sent (again). Nil: every order is sent.
	Check func(o *Order) stock.OrderCheck

	// DeadLetter, when set, hears of every dead-lettered order once, after
	// its unit was given back and before its status says failed: the
	// memory queue has no dead-letter stream, so the gateway logs them
	// for whoever must refund a payment taken for one.
	DeadLetter func(o *Order, reason string)

	// Now and Sleep are the clock; nil means the real one. Tests inject
	// a fake so that pacing and backoff need no real waiting.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
}

// DeadReasons are the reasons an order is dead-lettered (its unit given
// back, but for unconfirmed), in the order of a DeadCounts:
// flashgate_queue_dead_letters_total has one series per reason, all
// present from the start. Malformed stays fourth: it is the catch-all
// of deadIndex.
var DeadReasons = [...]string{ReasonRejected, ReasonExhausted, ReasonExpired, ReasonMalformed, ReasonUnconfirmed}

// DeadCounts counts dead-lettered orders by reason, as DeadReasons lists
// them.
type DeadCounts [len(DeadReasons)]uint64

// deadIndex is reason's place in DeadReasons (malformed's for an unknown one,
// which no caller passes).
func deadIndex(reason string) int {
	for i, r := range DeadReasons {
		if r == reason {
			return i
		}
	}
	return 3 // ReasonMalformed: an entry we could not read
}
