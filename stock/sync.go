package stock

import (
	"context"
	"time"

	"github.com/redis/rueidis"
)

// listen keeps one subscription to the stock channel alive and clears the
// local sold-out bits it hears about. Pub/sub is at-most-once and a
// reconnect loses whatever was published meanwhile, so every (re)subscribe
// also asks the sync loop for an early pass.
func (r *RedisStore) listen() {
	defer r.wg.Done()
	backoff := 50 * time.Millisecond
	ctx := rueidis.WithOnSubscriptionHook(r.ctx, func(s rueidis.PubSubSubscription) {
		if s.Kind == "subscribe" {
			r.subscribed.Store(true)
			r.wake()
		}
	})
	for r.ctx.Err() == nil {
		err := r.bg.Receive(ctx, r.bg.B().Subscribe().Channel(r.channel).Build(), r.onMessage)
		r.subscribed.Store(false)
		if r.ctx.Err() != nil {
			return
		}
		if err == nil {
			backoff = 50 * time.Millisecond
		}
		t := time.NewTimer(backoff)
		select {
		case <-r.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, time.Second)
	}
}

func (r *RedisStore) onMessage(m rueidis.PubSubMessage) {
	activity, shard, version, ok := parseStockMsg(m.Message)
	if !ok {
		return
	}
	a := r.cached(activity)
	switch {
	case a == nil:
	case shard < 0 && version > a.version:
		r.drop(activity) // reloaded: read the spec again on next use
	case shard >= 0 && shard < a.shards:
		a.empty.clear(shard)
	}
}

// wake asks the sync loop for a pass now, without blocking.
func (r *RedisStore) wake() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// syncLoop is the safety net under pub/sub: every SyncInterval it re-reads
// each shard believed empty and each cached spec's version, so every
// instance learns of new stock within SyncInterval plus one Timeout even
// when messages are lost. It also works the queue of abandoned Takes
// (abandon.lua), sweeps the units due unpaid (pay.go), and every
// PendingAge/2 it runs Reconcile.
func (r *RedisStore) syncLoop() {
	defer r.wg.Done()
	tick := time.NewTicker(r.interval)
	defer tick.Stop()
	reconcileEvery := max(r.pendingAge/2, r.interval)
	lastReconcile := time.Now()
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-tick.C:
		case <-r.kick:
		}
		_ = r.syncOnce(r.ctx)
		r.settleAbandoned(r.ctx)
		r.sweepPass(r.ctx)
		if time.Since(lastReconcile) >= reconcileEvery {
			lastReconcile = time.Now()
			_, _ = r.reconcile(r.ctx, r.pendingAge)
		}
	}
}

// syncOnce re-reads, in one pipelined batch, the version of every cached
// activity and the stock of every shard marked empty, then clears the bits
// of shards that have stock and drops specs whose version moved.
func (r *RedisStore) syncOnce(ctx context.Context) error {
	acts := *r.acts.Load()
	if len(acts) == 0 {
		return nil
	}
	type probe struct {
		a     *redisAct
		shard int // -1: the meta version
	}
	var probes []probe
	var cmds rueidis.Commands
	var marked []int
	for _, a := range acts {
		probes = append(probes, probe{a, -1})
		cmds = append(cmds, r.c.B().Hmget().Key(a.meta).Field("version", "pay_within").Build())
		marked = a.empty.marked(marked[:0])
		for _, i := range marked {
			probes = append(probes, probe{a, i})
			cmds = append(cmds, r.c.B().Hget().Key(a.keys[i][kState]).Field("s").Build())
		}
	}
	res, err := r.doMulti(ctx, "sync", cmds)
	if err != nil {
		return err
	}
	for i, p := range probes {
		if p.shard < 0 {
			// A new load, or a Warm that changed pay_within in place.
			vp, _ := res[i].ToArray()
			var version, payMS int64
			if len(vp) == 2 {
				version, _ = vp[0].AsInt64()
				payMS, _ = vp[1].AsInt64() // absent (0) before pay_within existed
			}
			switch {
			case version <= 0 && len(vp) == 2:
				r.lost(p.a.name) // the meta key is gone: say so once
			case version != p.a.version || payMS != p.a.payWithin.Milliseconds():
				r.drop(p.a.name)
			}
			continue
		}
		n, _ := res[i].AsInt64()
		switch {
		case p.shard >= 0 && n > 0:
			p.a.empty.clear(p.shard)
		}
	}
	return nil
}
