package stock

import (
	"context"
	"strconv"
	"testing"
	"time"
)

// TestPayWithinAsync: async mode with pay_within on Redis. The unpaid
// expiry retracts the queued order in the step that gives the unit back
// (or, for a borrowed unit, begins to), so an order no forwarder claimed
// by its deadline is never delivered, and its poll says unpaid at once;
// an order claimed before is overruled like a Release of a claimed one
// (its unit comes back unless paid), and a paid one stays sold.
func TestPayWithinAsync(t *testing.T) {
	const within = 2 * time.Second
	tests := []struct {
		name string
		run  func(t *testing.T, f *claimFixture, clk *testClock, u string, q *QueuedOrder)
	}{
		{"queued past its deadline: unit back, order dropped as unpaid", func(t *testing.T, f *claimFixture, clk *testClock, u string, q *QueuedOrder) {
			wantOrderState(t, f, u, q.Seq(), OrderQueued)
			clk.add(within + time.Millisecond)
			if n := mustSweep(t, f.r); n != 1 {
				t.Fatalf("swept %d, want 1", n)
			}
			wantOrderState(t, f, u, q.Seq(), OrderReleasedUnpaid)
			f.check(t, q, OrderUnpaid)
			mustLeft(t, f.r, f.act, 2)
			mustPaid(t, f.r, f.act, u, q.Seq(), PaidTooLate)
		}},
		{"claimed, then past its deadline unpaid: unit back, a redelivery dropped", func(t *testing.T, f *claimFixture, clk *testClock, u string, q *QueuedOrder) {
			f.check(t, q, OrderDeliver)
			clk.add(within + time.Millisecond)
			if n := mustSweep(t, f.r); n != 1 {
				t.Fatalf("swept %d, want 1", n)
			}
			f.check(t, q, OrderUnpaid)
			mustLeft(t, f.r, f.act, 2)
		}},
		{"claimed and paid: never released", func(t *testing.T, f *claimFixture, clk *testClock, u string, q *QueuedOrder) {
			f.check(t, q, OrderDeliver)
			mustPaid(t, f.r, f.act, u, q.Seq(), PaidNow)
			clk.add(within + time.Millisecond)
			if n := mustSweep(t, f.r); n != 0 {
				t.Fatalf("swept %d, want 0", n)
			}
			f.check(t, q, OrderRedeliver)
			mustLeft(t, f.r, f.act, 1)
			wantOrderState(t, f, u, q.Seq(), OrderQueued) // held; its final record is the forwarder's
		}},
		{"released by the backend while queued: poll says released at once", func(t *testing.T, f *claimFixture, clk *testClock, u string, q *QueuedOrder) {
			if ok, err := f.r.Release(testCtx(t, 5*time.Second), f.act, []byte(u), q.Seq()); !ok || err != nil {
				t.Fatalf("Release = %v, %v", ok, err)
			}
			wantOrderState(t, f, u, q.Seq(), OrderReleased)
			wantOrderState(t, f, u, q.Seq()+1, OrderUnknown) // never issued
			f.check(t, q, OrderGone)
			clk.add(within + time.Millisecond)
			if n := mustSweep(t, f.r); n != 0 {
				t.Fatalf("swept %d, want 0", n)
			}
			mustLeft(t, f.r, f.act, 2)
		}},
	}
	for _, tp := range []topo{standaloneTopo, clusterTopo} {
		t.Run(tp.String(), func(t *testing.T) {
			openStore := payTopo(t, tp)
			for i, tc := range tests {
				for _, borrowed := range []bool{false, true} {
					name := tc.name + map[bool]string{false: ", home unit", true: ", borrowed unit"}[borrowed]
					t.Run(name, func(t *testing.T) {
						clk := newTestClock()
						s, _ := openStore(t, clk)
						f := newPayClaimFixture(t, s.(*RedisStore), "pa"+strconv.Itoa(i), within, borrowed)
						u := usersHomedAt(1, 0, 2)[0]
						d := f.take(t, u)
						if want := map[bool]int{false: 0, true: 1}[borrowed]; d.Shard != want {
							t.Fatalf("unit from shard %d, want %d", d.Shard, want)
						}
						q := f.read(t, u)
						tc.run(t, f, clk, u, &q)
					})
				}
			}
		})
	}
}

// TestPayWithinAsyncSweepDiesHalfWay: a borrowed unit's unpaid release
// stopped after expire.lua (the unit not back yet on its shard): the
// order is already retracted, so no forwarder delivers it, and the poll
// says unpaid; the next sweep finishes the release once.
func TestPayWithinAsyncSweepDiesHalfWay(t *testing.T) {
	clk := newTestClock()
	s, _ := payTopo(t, standaloneTopo)(t, clk)
	f := newPayClaimFixture(t, s.(*RedisStore), "half", time.Second, true)
	u := usersHomedAt(1, 0, 2)[0]
	f.take(t, u)
	q := f.read(t, u)
	clk.add(2 * time.Second)
	res, err := expireScript.Exec(testCtx(t, 5*time.Second), f.r.bg, f.a.keys[0],
		[]string{f.a.verStr, strconv.FormatInt(q.N, 10), u, "0", f.r.channel, stockMsg(f.act, 0)}).AsIntSlice()
	if err != nil || len(res) != 2 || res[0] != 2 || res[1] != 1 {
		t.Fatalf("expire.lua = %v, %v; want [2 1]", res, err)
	}
	f.check(t, &q, OrderUnpaid)
	wantOrderState(t, f, u, q.Seq(), OrderReleasedUnpaid)
	mustPaid(t, f.r, f.act, u, q.Seq(), PaidTooLate)
	mustLeft(t, f.r, f.act, 1) // the unit is not back yet
	if n := mustSweep(t, f.r); n != 1 {
		t.Fatalf("swept %d, want 1", n)
	}
	mustLeft(t, f.r, f.act, 2)
	f.check(t, &q, OrderUnpaid)
	if c, err := f.r.Counts(testCtx(t, 5*time.Second), f.act); err != nil || c.ReleasedUnpaid != 1 || c.Held != 0 {
		t.Fatalf("Counts = %+v, %v", c, err)
	}
}

// newPayClaimFixture is newClaimFixture with pay_within, 2 units on 2
// shards; borrowed empties shard 0 and puts both units on shard 1, so a
// user homed on 0 borrows.
func newPayClaimFixture(t *testing.T, r *RedisStore, act string, within time.Duration, borrowed bool) *claimFixture {
	t.Helper()
	mustWarm(t, r, Spec{Activity: act, Stock: 2, Shards: 2, PerUser: 1, PayWithin: within}, false)
	a, err := r.act(testCtx(t, 5*time.Second), act)
	if err != nil || a == nil {
		t.Fatalf("act: %v", err)
	}
	if err := r.CreateGroups(testCtx(t, 5*time.Second), act, testGroup); err != nil {
		t.Fatal(err)
	}
	f := &claimFixture{r: r, act: act, a: a}
	if borrowed {
		r.drainShard(t, a, 0)
		if err := r.c.Do(context.Background(), r.c.B().Hset().Key(a.keys[1][kState]).FieldValue().FieldValue("s", "2").Build()).Error(); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func wantOrderState(t *testing.T, f *claimFixture, user string, seq int64, want OrderState) {
	t.Helper()
	_, got, err := f.r.OrderStatus(testCtx(t, 5*time.Second), f.act, user, seq)
	if err != nil || got != want {
		t.Fatalf("OrderStatus(%s, %d) = %d, %v; want %d", user, seq, got, err, want)
	}
}

// TestMemoryCheckOrder: the memory store's held-mark check for the
// in-process queue sees every give-back at once.
func TestMemoryCheckOrder(t *testing.T) {
	tests := []struct {
		name string
		do   func(t *testing.T, m *memoryStore, clk *testClock, d Decision)
		want OrderCheck
	}{
		{"held", func(*testing.T, *memoryStore, *testClock, Decision) {}, OrderDeliver},
		{"paid, past its deadline", func(t *testing.T, m *memoryStore, clk *testClock, d Decision) {
			mustPaid(t, m, "m", "alice", d.Seq, PaidNow)
			clk.add(2 * time.Second)
			mustSweep(t, m)
		}, OrderDeliver},
		{"released", func(t *testing.T, m *memoryStore, _ *testClock, d Decision) {
			if ok, err := m.Release(context.Background(), "m", []byte("alice"), d.Seq); !ok || err != nil {
				t.Fatalf("Release = %v, %v", ok, err)
			}
		}, OrderGone},
		{"past its deadline unpaid", func(t *testing.T, m *memoryStore, clk *testClock, _ Decision) {
			clk.add(2 * time.Second)
			if n := mustSweep(t, m); n != 1 {
				t.Fatalf("swept %d", n)
			}
		}, OrderUnpaid},
		{"loaded again", func(t *testing.T, m *memoryStore, _ *testClock, _ Decision) {
			mustWarm(t, m, Spec{Activity: "m", Stock: 3, Shards: 1, PerUser: 1, PayWithin: time.Second}, true)
		}, OrderReset},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := newTestClock()
			s, _ := payTopo(t, memTopo)(t, clk)
			m := s.(*memoryStore)
			mustWarm(t, m, Spec{Activity: "m", Stock: 2, Shards: 1, PerUser: 1, PayWithin: time.Second}, false)
			d := mustTake(t, m, "m", "alice", Admitted)
			tc.do(t, m, clk, d)
			if got := m.CheckOrder("m", "alice", d.Seq); got != tc.want {
				t.Fatalf("CheckOrder = %d, want %d", got, tc.want)
			}
			if got := m.CheckOrder("other", "alice", d.Seq); got != OrderReset {
				t.Fatalf("CheckOrder of an unknown activity = %d, want OrderReset", got)
			}
		})
	}
}
