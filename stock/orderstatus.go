package stock

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"
)

// Status records of queued orders (async mode on Redis): the forwarder
// that finishes an order writes its final status under the user's home
// shard's hash tag, {<prefix>A:h}:st:<seq:user>, with a TTL, so that any
// instance answers the client's poll. The record's bytes are the
// caller's (the gateway's JSON); the store only keeps them. An order
// waiting for a retry may also have an interim record beside it,
// {<prefix>A:h}:sq:<seq:user> (PutQueuedStatus): read only while no final
// record exists and the unit is still held, so it can never hide one.
// seq is the whole sequence number, the load's version in it: a forced
// re-Warm starts purchase numbers again at 1, and the records an earlier
// load left (kept for their TTL) must not answer for the new load's
// orders.

// OrderState is what the store knows of a ticket.
type OrderState uint8

const (
	// OrderUnknown: no such order (never issued to this user, another
	// load, or the user's ledger is gone).
	OrderUnknown OrderState = iota
	// OrderQueued: the unit is held and no final record exists yet;
	// the bytes are the interim record, if one was written.
	OrderQueued
	// OrderRecorded: a forwarder wrote the final record.
	OrderRecorded
	// OrderReleased: no final record yet, and the unit was given back
	// (Release, a rolled-back or abandoned Take): no forwarder will
	// deliver the order, the one that reaches it drops it.
	OrderReleased
	// OrderReleasedUnpaid: as OrderReleased, because the pay_within deadline
	// passed unpaid (or that release has begun).
	OrderReleasedUnpaid
)

func statusKey(prefix, activity string, h int, id string) string {
	return shardTag(prefix, activity, h) + ":st:" + id
}

// queuedKey is the interim record's key beside statusKey's: the same
// hash tag (the first "}" ends it), ":sq:" for ":st:".
func queuedKey(final string) string {
	i := strings.IndexByte(final, '}') + 1
	return final[:i] + ":sq:" + final[i+len(":st:"):]
}

// PutOrderStatus records the final status of (activity, user, seq) for
// ttl. An order of another load than the current one is not recorded.
func (r *RedisStore) PutOrderStatus(ctx context.Context, activity, user string, seq int64, rec []byte, ttl time.Duration) error {
	return r.putStatus(ctx, activity, user, seq, rec, ttl, func(final string) string { return final })
}

// PutQueuedStatus records the interim status of a queued order (its
// attempts so far) for ttl, beside the final record's key.
func (r *RedisStore) PutQueuedStatus(ctx context.Context, activity, user string, seq int64, rec []byte, ttl time.Duration) error {
	return r.putStatus(ctx, activity, user, seq, rec, ttl, queuedKey)
}

// putStatus writes rec for ttl under keyOf(the final record's key).
func (r *RedisStore) putStatus(ctx context.Context, activity, user string, seq int64, rec []byte, ttl time.Duration, keyOf func(string) string) error {
	key, _, ok, err := r.statusKeyOf(ctx, activity, user, seq)
	if err != nil || !ok {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	if err := r.bg.Do(cctx, r.bg.B().Set().Key(keyOf(key)).Value(rueidis.BinaryString(rec)).Px(ttl).Build()).Error(); err != nil {
		return unavailable("order status", err)
	}
	return nil
}

// OrderStatus reads what is known of (activity, user, seq): the final
// record; else queued (with the interim record, if any) while the
// ledger entry is held (or pending); else, for a purchase number this
// load issued to the user, released or unpaid (the entry is gone or
// retracted: every give-back retracts first, so no forwarder delivers
// it, and the poll need not wait for one to drop it); else unknown. One
// round trip reads it all, on the home shard.
func (r *RedisStore) OrderStatus(ctx context.Context, activity, user string, seq int64) ([]byte, OrderState, error) {
	key, a, ok, err := r.statusKeyOf(ctx, activity, user, seq)
	if err != nil || !ok {
		return nil, OrderUnknown, err
	}
	h := homeShard(user, a.shards)
	_, n := splitSeq(seq)
	id := orderID(n, user)
	cctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	res := r.bg.DoMulti(cctx,
		r.bg.B().Get().Key(key).Build(),
		r.bg.B().Hmget().Key(a.keys[h][kState]).Field("v", recordField(user), "r"+id).Build(),
		r.bg.B().Zscore().Key(a.keys[h][kDue]).Member("x"+id).Build(),
		r.bg.B().Get().Key(queuedKey(key)).Build())
	rec, err := res[0].AsBytes()
	switch {
	case err == nil:
		return rec, OrderRecorded, nil
	case !rueidis.IsRedisNil(err):
		return nil, OrderUnknown, unavailable("order status", err)
	}
	vals, err := res[1].ToArray()
	if err != nil || len(vals) != 3 {
		return nil, OrderUnknown, unavailable("order status", errReply)
	}
	if err := res[2].Error(); err != nil && !rueidis.IsRedisNil(err) {
		return nil, OrderUnknown, unavailable("order status", err)
	}
	v, _ := vals[0].ToString()
	led, _ := vals[1].ToString()
	switch {
	case v != a.verStr:
		return nil, OrderUnknown, nil
	case hasEntry(led, n):
		interim, _ := res[3].AsBytes() // none, or unreadable: a plain queued
		return interim, OrderQueued, nil
	case !vals[2].IsNil() || res[2].Error() == nil:
		return nil, OrderReleasedUnpaid, nil
	case issued(led, n):
		return nil, OrderReleased, nil
	}
	return nil, OrderUnknown, nil
}

// issued reports whether ledger record rec ("N;...") has issued purchase
// number n (n <= N).
func issued(rec string, n int64) bool {
	head, _, _ := strings.Cut(rec, ";")
	last, err := strconv.ParseInt(head, 10, 64)
	return err == nil && n <= last
}

func (r *RedisStore) statusKeyOf(ctx context.Context, activity, user string, seq int64) (string, *redisAct, bool, error) {
	a, err := r.act(ctx, activity)
	if err != nil || a == nil {
		return "", nil, false, err
	}
	version, n := splitSeq(seq)
	if version != a.version || n <= 0 || user == "" {
		return "", nil, false, nil
	}
	return statusKey(r.prefix, activity, homeShard(user, a.shards), strconv.FormatInt(seq, 10)+":"+user), a, true, nil
}

// hasEntry reports whether ledger record rec has an entry for purchase n
// (held, claimed or pending) whose unit was not retracted.
func hasEntry(rec string, n int64) bool {
	want := ";" + strconv.FormatInt(n, 10) + ","
	for i := 0; i+len(want) <= len(rec); i++ {
		if rec[i:i+len(want)] == want {
			return !(len(rec) > i+len(want) && rec[i+len(want)] == 'R')
		}
	}
	return false
}

// QueueDepth is how many orders of activity wait in its Streams (queued
// or being delivered: finished ones are deleted) and when the oldest was
// admitted (zero when none waits).
func (r *RedisStore) QueueDepth(ctx context.Context, activity string) (int64, time.Time, error) {
	a, err := r.act(ctx, activity)
	if err != nil || a == nil {
		return 0, time.Time{}, err
	}
	cmds := make(rueidis.Commands, 0, 2*a.shards)
	for i := range a.shards {
		k := a.keys[i][kOrders]
		cmds = append(cmds, r.bg.B().Xlen().Key(k).Build(), r.bg.B().Xrange().Key(k).Start("-").End("+").Count(1).Build())
	}
	res, err := r.doMulti(ctx, "queue depth", cmds)
	if err != nil {
		return 0, time.Time{}, err
	}
	var depth int64
	var oldest time.Time
	for i := 0; i < len(res); i += 2 {
		n, _ := res[i].AsInt64()
		depth += n
		if es, err := res[i+1].AsXRange(); err == nil && len(es) > 0 {
			t := (&QueuedOrder{ID: es[0].ID}).Time()
			if oldest.IsZero() || t.Before(oldest) {
				oldest = t
			}
		}
	}
	return depth, oldest, nil
}
