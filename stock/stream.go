package stock

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"
)

// The Redis store's durable queue (async mode): TakeOrder appends the
// order to the orders Stream of the shard that gave the unit, in the same
// script as the decision; forwarders in every instance read the Streams
// through a consumer group with the methods below. See doc.go, "Async
// mode", for the life of an entry and why no order is delivered for a
// unit that was given back.

// OrderTaker is a Store that can queue an order atomically with the
// decision (the Redis store). The memory store is not one: its async mode
// queues in process (package forward).
type OrderTaker interface {
	// TakeOrder is Take that, on admission, appends order to the Stream
	// of the shard that gave the unit, in the same script call.
	TakeOrder(ctx context.Context, activity string, user, order []byte) (Decision, error)
}

// TakeOrder is Take with an order to queue (at most MaxOrder bytes).
func (r *RedisStore) TakeOrder(ctx context.Context, activity string, user, order []byte) (Decision, error) {
	if len(order) == 0 || len(order) > MaxOrder {
		return Decision{}, ErrBadSpec
	}
	return r.takeOrder(ctx, activity, user, string(order))
}

// MaxOrder bounds an order's bytes in the Stream (forward.MaxOrderSize is
// the encoder's bound, below this one).
const MaxOrder = 17 << 10

// streamValue is what an entry's one field (n:user) holds: the load
// version, a colon, the order, so that a forwarder can tell an order of
// an older load (a forced re-Warm reset its ledger) and build its Seq.
// Other layouts (a constant field, so that entries share their Stream
// node's master fields; n, u, o fields; n -> "version:user order") cost
// the same within what we can measure: lua/take.lua and README "Stock
// script cost" give the figures, scripts/append-variants.sh the command.
func streamValue(version, order string) string { return version + ":" + order }

// parseEntry reads an orders Stream entry's field and value. ok is false
// for anything take.lua or borrow.lua did not write.
func parseEntry(fv map[string]string) (n int64, user string, version int64, order string, ok bool) {
	if len(fv) != 1 {
		return 0, "", 0, "", false
	}
	var f, v string
	for f, v = range fv {
	}
	n, user, ok = parseOrderID(f)
	ver, order, ok2 := strings.Cut(v, ":")
	version, err := strconv.ParseInt(ver, 10, 64)
	if !ok || !ok2 || err != nil || user == "" {
		return 0, "", 0, "", false
	}
	return n, user, version, order, true
}

// QueuedOrder is one entry of a shard's orders Stream.
type QueuedOrder struct {
	Activity string
	Shard    int    // the shard whose Stream holds it
	ID       string // the Stream entry id, "ms-seq": admission order
	Version  int64  // the load the unit was taken in
	N        int64  // the user's purchase number in that load
	User     string
	Order    []byte // what TakeOrder was given
	// Claimed is true for an entry taken over from another consumer
	// (XAUTOCLAIM), or read again from this consumer's own pending list
	// (Reread): that consumer may have sent it already.
	Claimed bool
	Reread  bool
}

// Seq is the Decision.Seq of the order's unit.
func (q *QueuedOrder) Seq() int64 { return makeSeq(q.Version, q.N) }

// Time is when the order was admitted, from its entry id (Redis's clock).
func (q *QueuedOrder) Time() time.Time {
	ms, _, _ := strings.Cut(q.ID, "-")
	v, _ := strconv.ParseInt(ms, 10, 64)
	return time.UnixMilli(v)
}

// OrderShards is how many Streams activity's orders are spread over now
// (its shard count), 0 when it is not loaded.
func (r *RedisStore) OrderShards(ctx context.Context, activity string) (int, error) {
	a, err := r.act(ctx, activity)
	if err != nil || a == nil {
		return 0, err
	}
	return a.shards, nil
}

func (r *RedisStore) shardStream(ctx context.Context, activity string, shard int) (*redisAct, string, error) {
	a, err := r.act(ctx, activity)
	if err != nil {
		return nil, "", err
	}
	if a == nil {
		return nil, "", ErrNotLoaded
	}
	if shard < 0 || shard >= a.shards {
		return nil, "", ErrBadSpec
	}
	return a, a.keys[shard][kOrders], nil
}

// CreateGroups makes sure every shard Stream of activity has the consumer
// group (created from the Stream's start, so orders queued before any
// forwarder ran are delivered too).
func (r *RedisStore) CreateGroups(ctx context.Context, activity, group string) error {
	a, err := r.act(ctx, activity)
	if err != nil {
		return err
	}
	if a == nil {
		return ErrNotLoaded
	}
	for i := range a.shards {
		cctx, cancel := context.WithTimeout(ctx, r.timeout)
		err := r.bg.Do(cctx, r.bg.B().XgroupCreate().Key(a.keys[i][kOrders]).Group(group).Id("0").Mkstream().Build()).Error()
		cancel()
		if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
			return unavailable("create group", err)
		}
	}
	return nil
}

// IsNoGroup reports whether err says the Stream or its group is missing
// (a re-Warm deleted a shard): call CreateGroups again.
func IsNoGroup(err error) bool { return err != nil && strings.Contains(err.Error(), "NOGROUP") }

// ReadOrders reads up to count new entries of a shard's Stream for
// consumer, without blocking.
func (r *RedisStore) ReadOrders(ctx context.Context, activity string, shard int, group, consumer string, count int) ([]QueuedOrder, error) {
	a, key, err := r.shardStream(ctx, activity, shard)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	res, err := r.bg.Do(cctx, r.bg.B().Xreadgroup().Group(group, consumer).Count(int64(count)).Streams().Key(key).Id(">").Build()).AsXRead()
	if rueidis.IsRedisNil(err) {
		return nil, nil
	}
	if err != nil {
		return nil, unavailable("read orders", err)
	}
	return parseEntries(a.name, shard, res[key], false), nil
}

// ReadOwnPending reads again up to count entries of a shard's Stream
// that are pending with consumer, from just after id after ("0" at
// first): those a read delivered whose reply was lost (a timeout while
// Redis ran it), which would otherwise wait out claim_idle unseen. It
// returns them marked Reread, and ones this consumer still works on
// too: the caller skips those.
func (r *RedisStore) ReadOwnPending(ctx context.Context, activity string, shard int, group, consumer, after string, count int) ([]QueuedOrder, error) {
	a, key, err := r.shardStream(ctx, activity, shard)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	res, err := r.bg.Do(cctx, r.bg.B().Xreadgroup().Group(group, consumer).Count(int64(count)).Streams().Key(key).Id(after).Build()).AsXRead()
	if rueidis.IsRedisNil(err) {
		return nil, nil
	}
	if err != nil {
		return nil, unavailable("read own orders", err)
	}
	qs := parseEntries(a.name, shard, res[key], true)
	for i := range qs {
		qs[i].Reread = true
	}
	return qs, nil
}

// ClaimIdle takes over up to count entries of a shard's Stream that have
// been pending longer than idle (their consumer died, or lost them),
// scanning the pending list from cursor ("0-0" at first); it returns the
// cursor to go on from, "0-0" once the scan went round.
func (r *RedisStore) ClaimIdle(ctx context.Context, activity string, shard int, group, consumer string, idle time.Duration, count int, cursor string) ([]QueuedOrder, string, error) {
	a, key, err := r.shardStream(ctx, activity, shard)
	if err != nil {
		return nil, "0-0", err
	}
	cctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	res, err := r.bg.Do(cctx, r.bg.B().Xautoclaim().Key(key).Group(group).Consumer(consumer).
		MinIdleTime(strconv.FormatInt(idle.Milliseconds(), 10)).Start(cursor).Count(int64(count)).Build()).ToArray()
	if err != nil {
		return nil, "0-0", unavailable("claim orders", err)
	}
	if len(res) < 2 {
		return nil, "0-0", unavailable("claim orders", errReply)
	}
	next, err := res[0].ToString()
	if err != nil {
		next = "0-0"
	}
	es, err := res[1].AsXRange()
	if err != nil {
		return nil, "0-0", unavailable("claim orders", err)
	}
	return parseEntries(a.name, shard, es, true), next, nil
}

func parseEntries(activity string, shard int, es []rueidis.XRangeEntry, claimed bool) []QueuedOrder {
	out := make([]QueuedOrder, 0, len(es))
	for _, e := range es {
		q := QueuedOrder{Activity: activity, Shard: shard, ID: e.ID, Claimed: claimed}
		if n, user, version, order, ok := parseEntry(e.FieldValues); ok {
			q.N, q.User, q.Version, q.Order = n, user, version, []byte(order)
		}
		out = append(out, q) // a malformed entry has no user: Check answers OrderGone
	}
	return out
}

// Touch keeps consumer's entries ids fresh (their idle time restarts), so
// that no other instance claims an order this one is still working on. It
// returns the ids another consumer has taken over meanwhile.
func (r *RedisStore) Touch(ctx context.Context, activity string, shard int, group, consumer string, ids []string) ([]string, error) {
	return r.touch(ctx, activity, shard, group, consumer, 0, ids)
}

// HandBack makes consumer's entries ids look idle for longer than any
// claim_idle, so that another instance's next XAUTOCLAIM takes them over
// at once: a forwarder that stops (SIGTERM) gives back the orders it did
// not finish instead of leaving them to wait out claim_idle. It reports
// how many it handed back: those another instance took over meanwhile
// are not this consumer's to give.
func (r *RedisStore) HandBack(ctx context.Context, activity string, shard int, group, consumer string, ids []string) (int, error) {
	lost, err := r.touch(ctx, activity, shard, group, consumer, handBackIdle, ids)
	if err != nil {
		return 0, err
	}
	return len(ids) - len(lost), nil
}

// handBackIdle is the idle time a handed-back entry gets: beyond any
// sensible claim_idle.
const handBackIdle = 24 * time.Hour

func (r *RedisStore) touch(ctx context.Context, activity string, shard int, group, consumer string, idle time.Duration, ids []string) ([]string, error) {
	_, key, err := r.shardStream(ctx, activity, shard)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	args := append([]string{group, consumer, strconv.FormatInt(idle.Milliseconds(), 10)}, ids...)
	lost, err := touchScript.Exec(cctx, r.bg, []string{key}, args).AsStrSlice()
	if err != nil {
		return nil, unavailable("touch orders", err)
	}
	return lost, nil
}

// Finish acks and deletes the entry; with a reason, it first copies it to
// the shard's dead-letter Stream ({<prefix>A:i}:dead, capped at about
// 100000 entries). It reports whether this call acked it.
func (r *RedisStore) Finish(ctx context.Context, q *QueuedOrder, group, deadReason string) (bool, error) {
	a, key, err := r.shardStream(ctx, q.Activity, q.Shard)
	if err != nil {
		return false, err
	}
	args := []string{group, q.ID}
	if deadReason != "" {
		args = append(args, orderID(q.N, q.User), string(q.Order), deadReason)
	}
	keys := []string{key, shardTag(r.prefix, a.name, q.Shard) + ":dead"}
	cctx, cancel := context.WithTimeout(ctx, r.timeout)
	n, err := call(cctx, r.bg, "finish", ackScript, keys, args)
	cancel()
	return n == 1, err
}
