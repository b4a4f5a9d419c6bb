package gateway

import (
	"errors"
	"strconv"
	"time"

	"github.com/flashgate/flashgate/forward"
	"github.com/flashgate/flashgate/internal/orderkey"
	"github.com/flashgate/flashgate/internal/userid"
	"github.com/flashgate/flashgate/stock"
)

// The admin calls on an activity's stock: warm, stock numbers, top-up and
// release.

func adminWarm(a *AdminCall, act *Activity) {
	if !a.Query("bad_force", "force") {
		return
	}
	force, ok := a.Bool("force", "bad_force")
	if !ok {
		return
	}
	ctx, cancel := adminCtx()
	defer cancel()
	spec := SpecOf(act)
	// Warming the loaded spec again changes nothing; the answer says so,
	// as flashgate warm does, so a script can tell a load from a no-op.
	var already bool
	var err error
	if !force {
		already, err = stock.Loaded(ctx, a.Deps.Stock, spec)
	}
	if err == nil && !already {
		err = a.Deps.Stock.Warm(ctx, spec, force)
	}
	switch {
	case err == stock.ErrExists:
		a.Error(409, "sale_running", "the activity has already sold units with another spec; add ?force=true to reset it")
	case errors.Is(err, stock.ErrExists):
		a.Error(409, "sale_running", err.Error()) // the store's reason, which names force
	case errors.Is(err, stock.ErrWarmBusy):
		retry := time.Second
		var ra interface{ RetryAfter() time.Duration }
		if errors.As(err, &ra) {
			retry = ra.RetryAfter()
		}
		a.Ctx.Response.Header.Set("Retry-After", strconv.Itoa(int((retry+time.Second-1)/time.Second)))
		a.Error(409, "warm_running", err.Error())
	case err != nil:
		a.Error(503, "store_unavailable", err.Error())
	default:
		a.JSON(200, map[string]any{"activity": act.ID, "stock": act.Stock, "shards": act.Shards, "per_user": act.PerUser,
			"warmed": true, "already_loaded": already})
	}
}

// stockAnswer is an activity's stock numbers as the admin API shows them:
// the store's Counts (defined in package stock), beside the stock the
// running config names, which differs from loaded after a reload that
// met a sale already selling.
type stockAnswer struct {
	Activity   string `json:"activity"`
	Configured int64  `json:"configured"`
	stock.Counts
}

func adminStock(a *AdminCall, act *Activity) {
	ctx, cancel := adminCtx()
	defer cancel()
	c, err := a.Deps.Stock.Counts(ctx, act.ID)
	if err != nil {
		a.storeError(err)
		return
	}
	a.JSON(200, stockAnswer{Activity: act.ID, Configured: act.Stock, Counts: c})
}

// storeError answers a stock store error: 409 not_loaded when the
// activity was never warmed up, else 503 store_unavailable.
func (a *AdminCall) storeError(err error) {
	if errors.Is(err, stock.ErrNotLoaded) {
		a.Error(409, "not_loaded", "the activity is not loaded in the stock store; warm it first")
		return
	}
	a.Error(503, "store_unavailable", err.Error())
}

func adminTopUp(a *AdminCall, act *Activity) {
	if !a.Query("bad_units", "units") {
		return
	}
	// Written as seq is: an operator's "+5" or "05" is refused, not read.
	n, ok := orderkey.ParseSeq(string(a.Ctx.QueryArgs().Peek("units")))
	if !ok || n > stock.MaxUnits {
		a.Error(400, "bad_units", "units must be an integer in 1..2^40 without sign or leading zeros, got "+strconv.Quote(string(a.Ctx.QueryArgs().Peek("units"))))
		return
	}
	ctx, cancel := adminCtx()
	defer cancel()
	if err := a.Deps.Stock.TopUp(ctx, act.ID, n); err != nil {
		a.storeError(err)
		return
	}
	a.JSON(200, map[string]any{"activity": act.ID, "added": n})
}

// adminRelease is how the backend gives a unit back when an admitted
// order failed or went unpaid. A repeated release is a no-op (200 with
// released=false), so the backend may retry safely; a release of an
// order that was never admitted in the current load is 404
// unknown_order, so a wrong seq or user is not mistaken for a repeat.
func adminRelease(a *AdminCall, act *Activity) {
	if !a.Query("bad_release", "user", "seq") {
		return
	}
	q := a.Ctx.QueryArgs()
	user := q.Peek("user")
	if !userid.Valid(user) {
		a.Error(400, "bad_release", "user must be a user id, "+userid.Rule+", got "+strconv.Quote(string(user)))
		return
	}
	seq, ok := orderkey.ParseSeq(string(q.Peek("seq")))
	if !ok {
		a.Error(400, "bad_release", "seq must be a positive integer without leading zeros, got "+strconv.Quote(string(q.Peek("seq"))))
		return
	}
	ctx, cancel := adminCtx()
	defer cancel()
	ok, err := a.Instance.units.Release(ctx, act.ID, user, seq, "admin")
	if err != nil {
		a.Error(503, "store_unavailable", err.Error())
		return
	}
	// Nothing released: a repeat (200, as before) or an order that never
	// was, whose caller has the wrong seq or user and should hear it.
	if is, okType := a.Deps.Stock.(stock.Issuer); !ok && okType {
		if issued, err := is.Issued(ctx, act.ID, user, seq); err == nil && !issued {
			a.Error(404, "unknown_order", "no order "+strconv.Quote(orderkey.String(act.ID, string(user), seq))+
				" was admitted in this sale's current load (a wrong user or seq, or a load since reset by a forced warm): nothing released")
			return
		}
	}
	if ok && a.Instance.queues != nil {
		a.Instance.queues.Resolve(orderkey.String(act.ID, string(user), seq), forward.ReasonReleased)
	}
	a.JSON(200, map[string]any{"activity": act.ID, "user": string(user), "seq": seq, "released": ok})
}

// statusActivity is one activity in /admin/status: its config, its phase
// and the store's Counts, or the reason they could not be read.
type statusActivity struct {
	ID         string `json:"id"`
	Product    string `json:"product"`
	Phase      string `json:"phase"`
	Configured int64  `json:"configured"`
	*stock.Counts
	StockError string `json:"stock_error,omitempty"`
}
