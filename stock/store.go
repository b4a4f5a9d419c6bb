package stock

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/flashgate/flashgate/internal/ident"
)

// Spec is how an activity's stock is loaded.
type Spec struct {
	// Activity names the sale: [A-Za-z0-9_-]{1,64}. It becomes part of
	// Redis keys and hash tags, which is why the alphabet is closed.
	Activity string
	// Stock is the number of units, >= 0.
	Stock int64
	// Shards is how many counters the stock is split over, 1..1024. More
	// shards spread a hot activity over more Redis slots (and cores).
	Shards int
	// PerUser is how many units one user may hold at once, >= 1.
	PerUser int64
	// PayWithin, when > 0, holds every admitted unit until Paid confirms
	// its payment and gives it back once the deadline (admission +
	// PayWithin) passes unpaid (see pay.go, "Pay within"). 0 (the
	// default) sells for good at admission. Unlike the other fields it
	// may change on a running sale: Warm applies it to the admissions
	// that follow, and the units already held keep their deadline.
	PayWithin time.Duration
}

// MaxPayWithin bounds Spec.PayWithin.
const MaxPayWithin = 30 * 24 * time.Hour

// sameStock reports whether s and o load the same stock: they may differ
// in PayWithin, which Warm changes in place.
func (s Spec) sameStock(o Spec) bool {
	s.PayWithin, o.PayWithin = 0, 0
	return s == o
}

// MaxShards bounds Spec.Shards.
const MaxShards = 1024

// MaxUnits bounds an activity's stock and one top-up, far above any sale
// and far below where counters could overflow.
const MaxUnits = 1 << 40

// Result is the outcome of a Take.
type Result uint8

const (
	// Admitted means a unit was taken for the user.
	Admitted Result = iota + 1
	// SoldOut means no shard has stock.
	SoldOut
	// LimitReached means the user already holds PerUser units.
	LimitReached
	// NotLoaded means the activity was never warmed up.
	NotLoaded
)

// PaidResult is the outcome of Paid.
type PaidResult uint8

const (
	// PaidNow means the payment is recorded: the unit stays sold.
	PaidNow PaidResult = iota + 1
	// PaidAlready means the unit was already paid (or was admitted without
	// a deadline): nothing changed.
	PaidAlready
	// PaidTooLate means the unit was released unpaid, or its release has
	// begun: the payment is refused and the unit sells again.
	PaidTooLate
	// PaidUnknown means no unit is held under this key: never admitted,
	// given back by Release, or admitted under another load.
	PaidUnknown
)

var paidNames = [...]string{"invalid", "paid", "already_paid", "released_unpaid", "unknown_order"}

// String is the snake_case name used in the admin API.
func (p PaidResult) String() string {
	if int(p) < len(paidNames) {
		return paidNames[p]
	}
	return "invalid"
}

var resultNames = [...]string{"invalid", "admitted", "sold_out", "limit_reached", "not_loaded"}

// String is the snake_case name used in metrics and logs.
func (r Result) String() string {
	if int(r) < len(resultNames) {
		return resultNames[r]
	}
	return "invalid"
}

// Decision is what Take decided. It is returned by value.
type Decision struct {
	Result Result
	// Seq is the user's purchase sequence number for this unit, set when
	// Admitted. It strictly increases per (activity, user) and is never
	// reused, even after a Release or a forced re-Warm, so
	// "activity:user:seq" is a unique idempotency key for the backend.
	Seq int64
	// Shard is where the unit was taken, set when Admitted.
	Shard int
}

var (
	// ErrUnavailable means the store could not decide (Redis down or slow):
	// the caller fails closed. Errors that carry a cause match it with
	// errors.Is.
	ErrUnavailable = errors.New("stock: store unavailable")
	// ErrExists means Warm without force met a sale it must not reset: a
	// different spec on an activity that has already sold something, or
	// shards holding a load its meta key does not name (the meta key lost
	// or behind them). The error says which; force resets the sale.
	ErrExists = errors.New("stock: activity already loaded and selling")
	// ErrWarmBusy means another Warm of the same activity holds its warm
	// lease (one instance or operator at a time: try again once it ends),
	// or this Warm lost the lease before it was done (the error says so
	// and what it did).
	ErrWarmBusy = errors.New("stock: another warm of this activity is running")
	// ErrNotLoaded means TopUp or Counts met an activity that was never
	// warmed up.
	ErrNotLoaded = errors.New("stock: activity not loaded")
	// ErrBadSpec means Warm or TopUp got arguments out of range.
	ErrBadSpec = errors.New("stock: invalid spec")
)

// Store keeps the stock of every activity. All methods are safe for
// concurrent use.
type Store interface {
	// Take atomically takes one unit of activity for user. It never admits
	// more than the stock, never more than PerUser per user, and does not
	// answer SoldOut while any shard still has a unit. user is not retained.
	Take(ctx context.Context, activity string, user []byte) (Decision, error)
	// SoldOut reports from local memory only (no I/O) whether activity is
	// known sold out, so the gateway answers the crowd without a round trip.
	SoldOut(activity string) bool
	// Release gives back the unit (activity, user, seq) and frees the
	// user's allowance; a repeated or unknown release returns (false, nil)
	// (Issuer tells the two apart).
	Release(ctx context.Context, activity string, user []byte, seq int64) (bool, error)
	// Warm loads spec. The same spec again is a no-op returning nil; a
	// different spec on an activity that has already sold something
	// returns ErrExists unless force. force resets stock and ledgers.
	Warm(ctx context.Context, s Spec, force bool) error
	// Counts reads the activity's stock numbers (see Counts for their
	// definitions), or returns ErrNotLoaded.
	Counts(ctx context.Context, activity string) (Counts, error)
	// Left is Counts(ctx, activity).Left, or -1 if not loaded.
	Left(ctx context.Context, activity string) (int64, error)
	// Paid records that the backend confirmed the payment of the unit
	// (activity, user, seq): it stays sold and is no longer released at
	// its deadline. Paying twice answers PaidAlready; a unit released
	// unpaid (or whose release has begun) answers PaidTooLate, and no such
	// held unit PaidUnknown. An activity that was never loaded returns
	// ErrNotLoaded.
	Paid(ctx context.Context, activity string, user []byte, seq int64) (PaidResult, error)
	// Sweep gives back, once each, the units whose pay_within deadline has
	// passed unpaid, and returns how many it gave back. Both stores run it
	// in the background (every SyncInterval, 500 ms for the memory store);
	// it is exported for tests that move an injected clock.
	Sweep(ctx context.Context) (int, error)
	// TopUp adds n units, spread over the shards; every instance stops
	// believing the activity is sold out within a second.
	TopUp(ctx context.Context, activity string, n int64) error
	// Close stops background work. It does not close a Redis client that
	// the caller passed in.
	Close() error
}

// Bounded is a Store whose Take (and TakeOrder) returns within Timeout
// whatever its ctx, as the Redis store's does: a caller needs a ctx
// deadline only for a shorter bound. A context.WithTimeout per purchase
// (a timerCtx and a runtime timer) was 6% of BenchmarkAdmitRedis's CPU.
type Bounded interface {
	Timeout() time.Duration
}

// Validate reports what is wrong with s, wrapping ErrBadSpec.
func (s Spec) Validate() error {
	switch {
	case !ident.Valid(s.Activity):
		return &specError{"activity must match " + ident.Rule + ", got " + strconv.Quote(s.Activity)}
	case s.Stock < 0 || s.Stock > MaxUnits:
		return &specError{"stock must be in 0..2^40, got " + strconv.FormatInt(s.Stock, 10)}
	case s.Shards < 1 || s.Shards > MaxShards:
		return &specError{"shards must be 1..1024, got " + strconv.Itoa(s.Shards)}
	case s.PerUser < 1:
		return &specError{"per_user must be >= 1, got " + strconv.FormatInt(s.PerUser, 10)}
	case s.PayWithin != 0 && (s.PayWithin < time.Millisecond || s.PayWithin > MaxPayWithin):
		// Redis keeps it in ms: a shorter one would be 0 there, and off.
		return &specError{"pay_within must be 0 (off) or in 1ms..720h, got " + s.PayWithin.String()}
	}
	return nil
}

type specError struct{ msg string }

func (e *specError) Error() string { return ErrBadSpec.Error() + ": " + e.msg }
func (e *specError) Unwrap() error { return ErrBadSpec }

// share is shard i's part of units split over n shards: the remainder goes
// to the lowest shards, one unit each.
func share(units int64, n, i int) int64 {
	s := units / int64(n)
	if int64(i) < units%int64(n) {
		s++
	}
	return s
}

// hash is 64-bit FNV-1a. home = hash % shards; the memory store also uses
// its top bits to pick a ledger lock.
func hash[T string | []byte](b T) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(b); i++ {
		h ^= uint64(b[i])
		h *= 1099511628211
	}
	return h
}

// homeShard is the shard that keeps user's ledger.
func homeShard[T string | []byte](user T, shards int) int { return int(hash(user) % uint64(shards)) }

// Seq layout: the load version in the high bits, the per-version purchase
// number in the low 32. A forced re-Warm bumps the version, so a user's
// sequence keeps increasing across resets and is never reused.
const seqBits = 32

func makeSeq(version, n int64) int64 { return version<<seqBits | n }

func splitSeq(seq int64) (version, n int64) { return seq >> seqBits, seq & (1<<seqBits - 1) }

// unavailableError carries the cause of an ErrUnavailable. It is built on
// the error path only, without fmt.
type unavailableError struct {
	op    string
	cause error
}

func unavailable(op string, cause error) error { return &unavailableError{op: op, cause: cause} }

func (e *unavailableError) Error() string {
	return ErrUnavailable.Error() + ": " + e.op + ": " + e.cause.Error()
}

// Unwrap lets errors.Is match both ErrUnavailable and the cause (for
// example context.DeadlineExceeded).
func (e *unavailableError) Unwrap() []error { return []error{ErrUnavailable, e.cause} }

// IsLocal reports whether s decides in this process without I/O (the
// memory store), so callers can skip setting up a deadline for it.
func IsLocal(s Store) bool {
	_, ok := s.(*memoryStore)
	return ok
}

// Issuer is what both stores also do: say whether order (activity, user,
// seq) was ever admitted in the activity's current load, so that the
// admin API answers a release of an order that never was (a mistyped
// seq, a load since reset) 404 instead of a repeat's 200.
type Issuer interface {
	Issued(ctx context.Context, activity string, user []byte, seq int64) (bool, error)
}

var (
	_ Issuer = (*RedisStore)(nil)
	_ Issuer = (*memoryStore)(nil)
)
