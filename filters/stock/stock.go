// Package stock is the `stock` filter: the one Redis round trip of a
// purchase, which takes a unit for the user or turns the request away.
// It answers the crowd that arrives after the item is sold out from local
// memory, with no round trip at all.
package stock

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/gateway"
	"github.com/flashgate/flashgate/internal/breaker"
	store "github.com/flashgate/flashgate/stock"
)

func init() {
	gateway.Register(gateway.Module{Name: "stock", Filters: []gateway.FilterInfo{
		{Type: "stock", New: func() gateway.FilterConfig { return &Config{} }, FailClosedOnly: true},
	}})
}

// Config is the settings block of a stock entry.
type Config struct {
	// Timeout bounds one stock decision; past it the request gets the busy
	// page (503 + Retry-After). Default: redis.timeout (100ms). With
	// redis.wait_replicas it must be longer than redis.wait_timeout.
	Timeout time.Duration `mapstructure:"timeout"`
}

// Validate checks the settings.
func (c *Config) Validate(at conf.At) {
	if c.Timeout < 0 {
		at.Addf("timeout", "must be > 0, got %s", c.Timeout)
	}
}

// Build makes the filter for the route's activities.
func (c *Config) Build(env *gateway.Env) (gateway.Filter, error) {
	if len(env.Activities) == 0 {
		return nil, errors.New("stock needs a route path with {activity}")
	}
	if env.Units == nil || env.Units.Store() == nil {
		return nil, errors.New("stock: no stock store configured")
	}
	timeout := c.Timeout
	if timeout == 0 {
		timeout = env.Config.Redis.Timeout
	}
	// Every purchase would give up before its replicas could answer. Read
	// from the config, not the store: `flashgate check` builds on a
	// memory store and must refuse what serve refuses.
	if rc := env.Config.Redis; rc.WaitReplicas > 0 && env.Config.Stock.Store == "redis" && timeout <= rc.WaitTimeout {
		return nil, fmt.Errorf("timeout %s must be longer than redis.wait_timeout %s", timeout, rc.WaitTimeout)
	}
	f := &filter{units: env.Units, local: env.Units.Local(), timeout: timeout}
	if b, ok := env.Units.Store().(store.Bounded); ok && b.Timeout() <= timeout {
		f.timeout = 0 // the store's own bound comes first
	}
	f.orders, _ = env.Units.Store().(store.OrderTaker)
	if !f.local {
		f.redis = env.RedisBreaker
	}
	var err error
	pages := []struct {
		dst  **gateway.Page
		spec gateway.PageSpec
	}{
		{&f.soldOut, gateway.PageSpec{Status: 410, Reason: "sold_out", Kind: "sold_out", Message: "Sold out. Thank you for joining the sale."}},
		{&f.limit, gateway.PageSpec{Status: 409, Reason: "already_purchased", Kind: "blocked", Message: "You already have this item: one per customer."}},
		{&f.login, gateway.PageSpec{Status: 401, Reason: "login_required", Kind: "blocked", Message: "Please sign in to buy."}},
		{&f.notLoaded, gateway.PageSpec{Status: 503, Reason: "not_loaded", Kind: "busy", RetryAfter: 1, Message: "The sale is being prepared. Please try again in a moment."}},
		{&f.tooLarge, gateway.PageSpec{Status: 413, Reason: "order_too_large", Kind: "blocked", Message: "The order is too large (at most 16 KiB with its headers)."}},
	}
	for _, p := range pages {
		if *p.dst, err = env.Page(p.spec); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// filter takes units through gateway.Units, which also owns giving them
// back: the gateway does that when an order certainly failed.
type filter struct {
	units *gateway.Units
	local bool // an in-process store needs no deadline
	// timeout bounds a Take with a ctx deadline; 0 when the store's own
	// bound (store.Bounded) is no longer.
	timeout time.Duration
	// redis is the Redis breaker (nil for the memory store or when
	// disabled): while it is open a purchase fails closed at once, with
	// no Redis call, instead of waiting out timeout.
	redis *breaker.Breaker
	// orders is the store's TakeOrder (Redis), for routes in async mode:
	// the order is queued in the same script as the decision.
	orders store.OrderTaker

	soldOut, limit, login, notLoaded, tooLarge *gateway.Page
}

// Handle takes a unit. Sold-out is decided from local memory first, so the
// crowd after the last unit costs no Redis round trip and no allocation.
func (f *filter) Handle(r *gateway.Request) (gateway.Verdict, error) {
	a := r.Activity
	if f.units.SoldOut(a.ID) {
		return gateway.RejectWith(f.soldOut), nil
	}
	if r.Anonymous() {
		return gateway.RejectWith(f.login), nil
	}
	var (
		d   store.Decision
		err error
	)
	if f.local {
		d, err = f.units.Take(context.Background(), a.ID, r.User)
	} else {
		// Async mode on Redis: the order goes into the decision's script.
		order, async, oerr := r.AsyncOrder()
		if oerr != nil {
			return gateway.RejectWith(f.tooLarge), nil
		}
		if async && f.orders == nil {
			return gateway.Verdict{}, gateway.ErrUnavailable // no Stream to queue in: never a 202 without its order
		}
		t, ok := f.redis.Allow()
		if !ok {
			return gateway.Verdict{}, gateway.ErrUnavailable
		}
		ctx := context.Background()
		if f.timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, f.timeout)
			defer cancel()
		}
		if async {
			d, err = f.orders.TakeOrder(ctx, a.ID, r.User, order)
		} else {
			d, err = f.units.Take(ctx, a.ID, r.User)
		}
		f.redis.Done(t, gateway.RedisOutcome(err))
	}
	if err != nil {
		return gateway.Verdict{}, gateway.ErrUnavailable
	}
	switch d.Result {
	case store.Admitted:
		r.Ticket = gateway.Ticket{Held: true, Seq: d.Seq}
		return gateway.Pass, nil
	case store.SoldOut:
		return gateway.RejectWith(f.soldOut), nil
	case store.LimitReached:
		return gateway.RejectWith(f.limit), nil
	case store.NotLoaded:
		return gateway.RejectWith(f.notLoaded), nil
	}
	// An answer we do not understand is not a decision: fail closed.
	return gateway.Verdict{}, gateway.ErrUnavailable
}

var (
	_ gateway.FilterConfig = (*Config)(nil)
	_ gateway.Filter       = (*filter)(nil)
)
