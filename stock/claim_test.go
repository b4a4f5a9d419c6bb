package stock

import (
	"context"
	"strconv"
	"testing"
	"time"
)

const testGroup = "fg-test"

// claimFixture is an activity of 2 units on 2 shards, sold with orders.
type claimFixture struct {
	r   *RedisStore
	act string
	a   *redisAct
}

func newClaimFixture(t *testing.T, r *RedisStore, act string, stock int64) *claimFixture {
	t.Helper()
	mustWarm(t, r, Spec{Activity: act, Stock: stock, Shards: 2, PerUser: 1}, false)
	a, err := r.act(testCtx(t, 5*time.Second), act)
	if err != nil || a == nil {
		t.Fatalf("act: %v", err)
	}
	if err := r.CreateGroups(testCtx(t, 5*time.Second), act, testGroup); err != nil {
		t.Fatal(err)
	}
	return &claimFixture{r: r, act: act, a: a}
}

func (f *claimFixture) take(t *testing.T, user string) Decision {
	t.Helper()
	d, err := f.r.TakeOrder(testCtx(t, 5*time.Second), f.act, []byte(user), []byte("order of "+user))
	if err != nil || d.Result != Admitted {
		t.Fatalf("TakeOrder(%s) = %+v, %v", user, d, err)
	}
	return d
}

// read returns the one queued order of user, from whichever shard.
func (f *claimFixture) read(t *testing.T, user string) QueuedOrder {
	t.Helper()
	for i := range f.a.shards {
		qs, err := f.r.ReadOrders(testCtx(t, 5*time.Second), f.act, i, testGroup, "c1", 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range qs {
			if q.User == user {
				if string(q.Order) != "order of "+user {
					t.Fatalf("order %q", q.Order)
				}
				return q
			}
		}
	}
	t.Fatalf("no queued order for %s", user)
	return QueuedOrder{}
}

func (f *claimFixture) check(t *testing.T, q *QueuedOrder, want OrderCheck) {
	t.Helper()
	got, err := f.r.Check(testCtx(t, 5*time.Second), q)
	if err != nil || got != want {
		t.Fatalf("Check(%s) = %d, %v; want %d", q.ID, got, err, want)
	}
}

// attempt is the attempt id of user's only ledger entry.
func (f *claimFixture) attempt(t *testing.T, user string) string {
	t.Helper()
	h := homeShard(user, f.a.shards)
	rec, err := f.r.c.Do(context.Background(), f.r.c.B().Hget().Key(f.a.keys[h][kState]).Field(recordField(user)).Build()).ToString()
	if err != nil {
		t.Fatal(err)
	}
	_, e, _ := cut(rec, ';')
	_, e, _ = cut(e, ',')
	att, _, _ := cut(e, ',')
	return att
}

func cut(s string, sep byte) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == sep {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// TestClaimRaces drives claim.lua against every way a unit can be given
// back, in both orders, for units on the home shard and borrowed ones, on
// both topologies: either the order is delivered and the unit stays sold,
// or the unit comes back and the order is dropped, never both.
func TestClaimRaces(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, f *claimFixture, user string)
	}{
		{"claimed, then claimed again: a redelivery", func(t *testing.T, f *claimFixture, u string) {
			q := f.read(t, u)
			f.check(t, &q, OrderDeliver)
			f.check(t, &q, OrderRedeliver)
			if ok, err := f.r.Finish(testCtx(t, 5*time.Second), &q, testGroup, ""); !ok || err != nil {
				t.Fatalf("Finish = %v, %v", ok, err)
			}
			if ok, _ := f.r.Finish(testCtx(t, 5*time.Second), &q, testGroup, ""); ok {
				t.Fatal("second Finish acked again")
			}
			mustLeft(t, f.r, f.act, 1)
		}},
		{"released before the claim: dropped", func(t *testing.T, f *claimFixture, u string) {
			q := f.read(t, u)
			if ok, err := f.r.Release(testCtx(t, 5*time.Second), f.act, []byte(u), q.Seq()); !ok || err != nil {
				t.Fatalf("Release = %v, %v", ok, err)
			}
			f.check(t, &q, OrderGone)
			mustLeft(t, f.r, f.act, 2)
		}},
		{"released after the claim (the backend's own failure): released, a redelivery dropped", func(t *testing.T, f *claimFixture, u string) {
			q := f.read(t, u)
			f.check(t, &q, OrderDeliver)
			if ok, err := f.r.Release(testCtx(t, 5*time.Second), f.act, []byte(u), q.Seq()); !ok || err != nil {
				t.Fatalf("Release = %v, %v", ok, err)
			}
			f.check(t, &q, OrderGone)
			mustLeft(t, f.r, f.act, 2)
		}},
		{"abandoned give-back before the claim: unit back, order dropped", func(t *testing.T, f *claimFixture, u string) {
			q := f.read(t, u)
			d := Decision{Result: Admitted, Seq: q.Seq(), Shard: q.Shard}
			f.r.giveBackAbandoned(abandonEntry{a: f.a, user: u, attempt: f.attempt(t, u)}, d)
			f.check(t, &q, OrderGone)
			mustLeft(t, f.r, f.act, 2)
		}},
		{"abandoned give-back after the claim: unit stays sold, order delivered", func(t *testing.T, f *claimFixture, u string) {
			q := f.read(t, u)
			att := f.attempt(t, u)
			f.check(t, &q, OrderDeliver)
			d := Decision{Result: Admitted, Seq: q.Seq(), Shard: q.Shard}
			f.r.giveBackAbandoned(abandonEntry{a: f.a, user: u, attempt: att}, d)
			mustLeft(t, f.r, f.act, 1)
			f.check(t, &q, OrderRedeliver)
		}},
		{"abandon.lua after the claim: fences a spent attempt, unit stays sold", func(t *testing.T, f *claimFixture, u string) {
			q := f.read(t, u)
			att := f.attempt(t, u)
			f.check(t, &q, OrderDeliver)
			got, err := f.r.abandon(testCtx(t, 5*time.Second), abandonEntry{a: f.a, user: u, attempt: att})
			if err != nil || got {
				t.Fatalf("abandon = %v, %v; want false", got, err)
			}
			mustLeft(t, f.r, f.act, 1)
			f.check(t, &q, OrderRedeliver)
		}},
		{"abandon.lua before the claim: unit back, order dropped", func(t *testing.T, f *claimFixture, u string) {
			q := f.read(t, u)
			got, err := f.r.abandon(testCtx(t, 5*time.Second), abandonEntry{a: f.a, user: u, attempt: f.attempt(t, u)})
			if err != nil || !got {
				t.Fatalf("abandon = %v, %v; want true", got, err)
			}
			f.check(t, &q, OrderGone)
			mustLeft(t, f.r, f.act, 2)
		}},
		{"give-back cut after its retract, before the claim: the check says to finish it", func(t *testing.T, f *claimFixture, u string) {
			q := f.read(t, u)
			f.retractOnly(t, u, q.Seq())
			if got, err := f.r.Paid(testCtx(t, 5*time.Second), f.act, []byte(u), q.Seq()); err != nil || got != PaidUnknown {
				t.Fatalf("Paid of a unit going back = %v, %v; want unknown_order", got, err)
			}
			f.finishRetracted(t, &q, u)
		}},
		{"give-back cut after its retract, after the claim: the check says to finish it", func(t *testing.T, f *claimFixture, u string) {
			q := f.read(t, u)
			f.check(t, &q, OrderDeliver)
			f.retractOnly(t, u, q.Seq())
			f.finishRetracted(t, &q, u)
		}},
		{"frozen by a Warm's check: the check waits, Release refuses, the thaw lets it go", func(t *testing.T, f *claimFixture, u string) {
			q := f.read(t, u)
			f.freeze(t)
			f.check(t, &q, OrderPending)
			if ok, err := f.r.Release(testCtx(t, 5*time.Second), f.act, []byte(u), q.Seq()); ok || !isUnavailable(err) {
				t.Fatalf("Release while frozen = %v, %v; want unavailable (a dead letter retries it)", ok, err)
			}
			// A Warm of the same spec finds the sale frozen and sold and
			// thaws it: nothing sold there is reloaded.
			mustWarm(t, f.r, Spec{Activity: f.act, Stock: 2, Shards: 2, PerUser: 1}, false)
			mustLeft(t, f.r, f.act, 1)
			f.check(t, &q, OrderDeliver)
		}},
		{"frozen by a Warm that found it sold and could not thaw: the next Warm thaws it first", func(t *testing.T, f *claimFixture, u string) {
			q := f.read(t, u)
			f.freeze(t)
			// Another spec: refused (the sale has sold), and thawed on the way.
			if err := f.r.Warm(testCtx(t, 5*time.Second), Spec{Activity: f.act, Stock: 9, Shards: 2, PerUser: 1}, false); err != ErrExists {
				t.Fatalf("Warm of another spec = %v, want ErrExists", err)
			}
			mustLeft(t, f.r, f.act, 1)
			f.check(t, &q, OrderDeliver)
		}},
		{"forced re-warm: the order is of another load", func(t *testing.T, f *claimFixture, u string) {
			q := f.read(t, u)
			mustWarm(t, f.r, Spec{Activity: f.act, Stock: 5, Shards: 3, PerUser: 1}, true)
			f.check(t, &q, OrderReset)
		}},
	}
	for _, tp := range []topo{standaloneTopo, clusterTopo} {
		t.Run(tp.String(), func(t *testing.T) {
			s, _ := open(t, tp)
			r := s.(*RedisStore)
			for i, tc := range tests {
				for _, borrowed := range []bool{false, true} {
					name := tc.name + map[bool]string{false: ", home unit", true: ", borrowed unit"}[borrowed]
					t.Run(name, func(t *testing.T) {
						f := newClaimFixture(t, r, "claim"+strconv.Itoa(i)+map[bool]string{false: "h", true: "b"}[borrowed], 2)
						u := usersHomedAt(1, 0, 2)[0]
						if borrowed {
							f.r.drainShard(t, f.a, 0)
							if err := f.r.c.Do(context.Background(), f.r.c.B().Hset().Key(f.a.keys[1][kState]).FieldValue().FieldValue("s", "2").Build()).Error(); err != nil {
								t.Fatal(err)
							}
						}
						d := f.take(t, u)
						if want := map[bool]int{false: 0, true: 1}[borrowed]; d.Shard != want {
							t.Fatalf("unit from shard %d, want %d", d.Shard, want)
						}
						tc.run(t, f, u)
					})
				}
			}
		})
	}
}

// freeze does what a Warm replacing an unsold sale does first: every
// shard's version becomes -version.
func (f *claimFixture) freeze(t *testing.T) {
	t.Helper()
	m, _, err := f.r.readMeta(testCtx(t, 5*time.Second), f.act)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.r.swapVersion(testCtx(t, 5*time.Second), m, m.version, -m.version); err != nil {
		t.Fatal(err)
	}
}

// retractOnly runs the first step of Release alone, as a give-back cut
// off after it (a stop, a crash, Redis timing out) leaves it.
func (f *claimFixture) retractOnly(t *testing.T, user string, seq int64) {
	t.Helper()
	_, n := splitSeq(seq)
	h := homeShard(user, f.a.shards)
	if code, err := f.r.retract(testCtx(t, 5*time.Second), f.a, h, strconv.FormatInt(n, 10), user, ""); err != nil || code != retracted {
		t.Fatalf("retract = %d, %v", code, err)
	}
}

// finishRetracted is what a forwarder does on OrderRetracted: Release
// finishes the give-back, and the next check drops the order.
func (f *claimFixture) finishRetracted(t *testing.T, q *QueuedOrder, user string) {
	t.Helper()
	f.check(t, q, OrderRetracted)
	if ok, err := f.r.Release(testCtx(t, 5*time.Second), f.act, []byte(user), q.Seq()); !ok || err != nil {
		t.Fatalf("Release of a retracted entry = %v, %v; want true", ok, err)
	}
	f.check(t, q, OrderGone)
	mustLeft(t, f.r, f.act, 2)
	f.mustBeFree(t, user, q.Seq())
}

// mustBeFree checks that user's allowance is free again: the give-back
// is whole, and a repeated Release has nothing left to give.
func (f *claimFixture) mustBeFree(t *testing.T, user string, seq int64) {
	t.Helper()
	if ok, err := f.r.Release(testCtx(t, 5*time.Second), f.act, []byte(user), seq); ok || err != nil {
		t.Fatalf("Release after the give-back = %v, %v; want false", ok, err)
	}
	mustTake(t, f.r, f.act, user, Admitted)
}

// TestDeadLetterOnce: the dead-letter copy (the refund list) is written by
// the ack that removes the entry only, so an ack retried after its reply
// was lost does not list the order twice.
func TestDeadLetterOnce(t *testing.T) {
	s, _ := open(t, standaloneTopo)
	f := newClaimFixture(t, s.(*RedisStore), "deadonce", 2)
	u := usersHomedAt(1, 0, 2)[0]
	f.take(t, u)
	q := f.read(t, u)
	for i, want := range []bool{true, false} {
		if ok, err := f.r.Finish(testCtx(t, 5*time.Second), &q, testGroup, "backend_rejected"); ok != want || err != nil {
			t.Fatalf("Finish #%d = %v, %v; want %v", i+1, ok, err, want)
		}
	}
	n, err := f.r.bg.Do(testCtx(t, 5*time.Second), f.r.bg.B().Xlen().Key(shardTag(f.r.prefix, f.act, q.Shard)+":dead").Build()).AsInt64()
	if err != nil || n != 1 {
		t.Fatalf("dead letters = %d, %v; want 1", n, err)
	}
}

// TestClaimPending: a borrowed unit's order is in the lending shard's
// Stream before settle.lua marks the ledger entry held; the forwarder
// waits for it.
func TestClaimPending(t *testing.T) {
	s, _ := open(t, standaloneTopo)
	f := newClaimFixture(t, s.(*RedisStore), "pend", 2)
	u := usersHomedAt(1, 0, 2)[0]
	f.r.drainShard(t, f.a, 0)
	v, err := f.r.run(testCtx(t, 5*time.Second), "t", takeScript, f.a.keys[0], []string{f.a.verStr, u, "0", "abc", "1", "v:x"})
	if err != nil || v&7 != codeBorrow {
		t.Fatalf("take.lua = %d, %v; want borrow", v&7, err)
	}
	id := orderID(v>>3, u)
	if code, err := f.r.run(testCtx(t, 5*time.Second), "t", borrowScript, f.a.keys[1], []string{f.a.verStr, id, streamValue(f.a.verStr, "order of "+u)}); err != nil || code != codeAdmitted {
		t.Fatalf("borrow.lua = %d, %v", code, err)
	}
	q := f.read(t, u)
	f.check(t, &q, OrderPending)
	if code, err := f.r.run(testCtx(t, 5*time.Second), "t", settleScript, f.a.keys[0], []string{f.a.verStr, id, u, "1", strconv.FormatInt(v>>3, 10)}); err != nil || code != 1 {
		t.Fatalf("settle.lua = %d, %v", code, err)
	}
	f.check(t, &q, OrderDeliver)
}

// TestWarmFrozenUnsold: shards frozen by a Warm replacing an unsold sale
// are never thawed to the old version by another Warm (the first may be
// about to load; a sale at the old version between would be wiped): the
// other Warm replaces the sale too, at a newer version.
func TestWarmFrozenUnsold(t *testing.T) {
	s, _ := open(t, standaloneTopo)
	f := newClaimFixture(t, s.(*RedisStore), "frozenunsold", 2)
	before, _, err := f.r.readMeta(testCtx(t, 5*time.Second), f.act)
	if err != nil {
		t.Fatal(err)
	}
	f.freeze(t)
	mustWarm(t, f.r, Spec{Activity: f.act, Stock: 2, Shards: 2, PerUser: 1}, false)
	after, _, err := f.r.readMeta(testCtx(t, 5*time.Second), f.act)
	if err != nil {
		t.Fatal(err)
	}
	if after.version <= before.version {
		t.Fatalf("version %d after %d: the frozen sale was thawed, not replaced", after.version, before.version)
	}
	mustLeft(t, f.r, f.act, 2)
	mustTake(t, f.r, f.act, usersHomedAt(1, 0, 2)[0], Admitted)
}
