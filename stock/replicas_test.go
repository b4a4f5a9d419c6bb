package stock

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/flashgate/flashgate/internal/redistest"
)

// replicaFixture is a master with one replica and a store that waits for
// it (WaitReplicas 1), selling activity "rw" (2 units on 2 shards, one
// each, 1 per user) with orders.
type replicaFixture struct {
	*claimFixture
	replica *redistest.Server
	rc      rueidis.Client // the replica's own connection
}

func newReplicaFixture(t *testing.T, wait time.Duration) *replicaFixture {
	t.Helper()
	master := redistest.Start(t)
	replica := redistest.StartReplica(t, master)
	r := newRedisStore(t, newClient(t, master.Addr()), func(o *RedisOptions) {
		o.WaitReplicas, o.WaitTimeout = 1, wait
		o.SyncInterval = 20 * time.Millisecond // abandon.lua runs soon
	})
	f := &replicaFixture{claimFixture: newClaimFixture(t, r, "rw", 2), replica: replica, rc: newSingleClient(t, replica.Addr())}
	t.Cleanup(replica.Resume) // a paused process would outlive its SIGKILL until thawed
	return f
}

// onReplica reports whether the replica's Stream of shard i holds user's
// order.
func (f *replicaFixture) onReplica(t *testing.T, i int, user string) bool {
	t.Helper()
	es, err := f.rc.Do(testCtx(t, 5*time.Second), f.rc.B().Xrange().Key(f.a.keys[i][kOrders]).Start("-").End("+").Build()).AsXRange()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		for id := range e.FieldValues {
			if _, u, _ := parseOrderID(id); u == user {
				return true
			}
		}
	}
	return false
}

func (f *replicaFixture) takeOrder(user string, within time.Duration) (Decision, error, time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	start := time.Now()
	d, err := f.r.TakeOrder(ctx, f.act, []byte(user), []byte("order of "+user))
	return d, err, time.Since(start)
}

// TestWaitReplicas runs WAIT against a real replica: acknowledged
// admissions are on the replica when the caller hears of them; with the
// replica frozen every Take fails closed within WaitTimeout (plus a
// generous margin), its unit back and its queued order dropped, and
// selling resumes once the replica is back.
func TestWaitReplicas(t *testing.T) {
	const wait = 50 * time.Millisecond
	f := newReplicaFixture(t, wait)
	home0 := usersHomedAt(3, 0, 2)
	u0, u1, u2 := home0[0], home0[1], home0[2]

	// Up: a Take on the home shard, then a borrow from shard 1.
	if d, err, _ := f.takeOrder(u0, 5*time.Second); err != nil || d.Result != Admitted || d.Shard != 0 {
		t.Fatalf("TakeOrder(%s) = %+v, %v; want admitted on shard 0", u0, d, err)
	}
	if !f.onReplica(t, 0, u0) {
		t.Fatalf("the replica has no order of %s after an acknowledged Take", u0)
	}
	mustLeft(t, f.r, f.act, 1)

	// Frozen: the borrow's take.lua leaves a pending entry that no
	// replica has: failed closed, rolled back by abandon.lua.
	f.replica.Pause()
	d, err, took := f.takeOrder(u1, 5*time.Second)
	if err == nil || !isUnavailable(err) || !errors.Is(err, errUnreplicated) {
		t.Fatalf("TakeOrder(%s) with the replica frozen = %+v, %v; want unavailable, unreplicated", u1, d, err)
	}
	if took > wait+2*time.Second {
		t.Errorf("TakeOrder failed after %v, want about %v", took, wait)
	}
	eventually(t, 10*time.Second, "abandon.lua settles the unreplicated borrow", func() bool { return f.r.Stats().Unresolved == 0 })
	mustLeft(t, f.r, f.act, 1)
	if got := f.r.Stats().Unreplicated; got != 1 {
		t.Errorf("Unreplicated = %d, want 1", got)
	}
	f.replica.Resume()

	// Up again: u1 borrows shard 1's unit.
	eventually(t, 10*time.Second, "a Take succeeds once the replica is back", func() bool {
		d, err, _ := f.takeOrder(u1, 5*time.Second)
		return err == nil && d.Result == Admitted
	})
	if !f.onReplica(t, 1, u1) {
		t.Fatalf("the replica has no order of %s after an acknowledged borrow", u1)
	}
	mustLeft(t, f.r, f.act, 0)
	// Give u0's unit back so the next Take admits on the home shard.
	q := f.read(t, u0)
	if ok, err := f.r.Release(testCtx(t, 5*time.Second), f.act, []byte(u0), q.Seq()); !ok || err != nil {
		t.Fatalf("Release(%s) = %v, %v", u0, ok, err)
	}
	mustLeft(t, f.r, f.act, 1)

	// Frozen, admitted on the home shard: the unit is given back at once
	// and its order, still in the Stream, is dropped by claim.lua.
	f.replica.Pause()
	// Sync mode too: its order goes to the backend at once, so a lost
	// admission would be a unit sold twice.
	if d, err := f.r.Take(testCtx(t, 5*time.Second), f.act, []byte("sync-"+u2)); !errors.Is(err, errUnreplicated) {
		t.Fatalf("sync Take with the replica frozen = %+v, %v; want unreplicated", d, err)
	}
	mustLeft(t, f.r, f.act, 1)
	before := f.r.Stats().Unreplicated
	d, err, took = f.takeOrder(u2, 5*time.Second)
	if err == nil || !errors.Is(err, errUnreplicated) {
		t.Fatalf("TakeOrder(%s) with the replica frozen = %+v, %v; want unreplicated", u2, d, err)
	}
	if took > wait+2*time.Second {
		t.Errorf("TakeOrder failed after %v, want about %v", took, wait)
	}
	mustLeft(t, f.r, f.act, 1) // at once: no background work left
	if st := f.r.Stats(); st.Unreplicated != before+1 || st.Unresolved != 0 {
		t.Errorf("Stats = %+v, want Unreplicated %d and nothing unresolved", st, before+1)
	}
	q = f.read(t, u2)
	f.check(t, &q, OrderGone) // retracted: dropped without a probe
	f.replica.Resume()
	eventually(t, 10*time.Second, "u2 buys once the replica is back", func() bool {
		d, err, _ := f.takeOrder(u2, 5*time.Second)
		return err == nil && d.Result == Admitted
	})
	mustLeft(t, f.r, f.act, 0)
}

// TestWaitReplicasForwarder: a forwarder does not claim an order whose
// admission no replica acknowledged (Check answers pending), so the
// Take's give-back wins and the order is dropped; once the replica is
// back, an order is claimed as before.
func TestWaitReplicasForwarder(t *testing.T) {
	f := newReplicaFixture(t, time.Second) // below the client's ConnWriteTimeout (2s)
	u := usersHomedAt(1, 0, 2)[0]
	f.replica.Pause()
	done := make(chan error, 1)
	go func() {
		_, err, _ := f.takeOrder(u, 10*time.Second)
		done <- err
	}()
	var q QueuedOrder
	eventually(t, 5*time.Second, "the order is in the master's Stream", func() bool {
		qs, err := f.r.ReadOrders(testCtx(t, 5*time.Second), f.act, 0, testGroup, "c1", 10)
		if err != nil || len(qs) == 0 {
			return false
		}
		q = qs[0]
		return true
	})
	f.check(t, &q, OrderPending) // WAIT on the probe: not replicated
	if err := <-done; !errors.Is(err, errUnreplicated) {
		t.Fatalf("TakeOrder = %v; want unreplicated", err)
	}
	f.replica.Resume()
	eventually(t, 10*time.Second, "the replica acknowledges again", func() bool {
		got, err := f.r.Check(testCtx(t, 5*time.Second), &q)
		return err == nil && got != OrderPending
	})
	f.check(t, &q, OrderGone)
	mustLeft(t, f.r, f.act, 2)

	d, err, _ := f.takeOrder(u, 5*time.Second)
	if err != nil || d.Result != Admitted {
		t.Fatalf("TakeOrder = %+v, %v", d, err)
	}
	q = f.read(t, u)
	f.check(t, &q, OrderDeliver)
}

// TestUnreplicatedGiveBack drives the give-back of an unreplicated Take
// directly, for a unit on the home shard and a borrowed one: the unit
// comes back and its order is dropped, unless a forwarder claimed the
// order first (it is on its way to the backend, and Check claims only
// replicated orders): then the unit stays sold and the Take is admitted.
func TestUnreplicatedGiveBack(t *testing.T) {
	tests := []struct {
		name    string
		borrow  bool // the user's home shard is empty: the unit comes from shard 1
		claimed bool
	}{
		{"home shard", false, false},
		{"borrowed", true, false},
		{"home shard, claimed first", false, true},
		{"borrowed, claimed first", true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newReplicaFixture(t, time.Second)
			users := usersHomedAt(2, 0, 2)
			u, shard, left := users[0], 0, int64(1)
			if tc.borrow {
				f.take(t, users[1]) // empties shard 0
				shard, left = 1, 0
			}
			d := f.take(t, u)
			if d.Shard != shard {
				t.Fatalf("admitted on shard %d, want %d", d.Shard, shard)
			}
			att := f.attempt(t, u)
			q := f.read(t, u)
			if tc.claimed {
				f.check(t, &q, OrderDeliver)
			}
			got, err := f.r.unreplicated(testCtx(t, 5*time.Second), f.a, 0, d, u, att)
			switch {
			case tc.claimed:
				if err != nil || got != d {
					t.Fatalf("unreplicated = %+v, %v; want %+v: the order was claimed", got, err, d)
				}
				mustLeft(t, f.r, f.act, left)
				f.check(t, &q, OrderRedeliver)
			default:
				if err != errUnreplicatedTake {
					t.Fatalf("unreplicated = %+v, %v; want errUnreplicatedTake", got, err)
				}
				mustLeft(t, f.r, f.act, left+1)
				f.check(t, &q, OrderGone)
				f.take(t, u) // the allowance is back too
			}
		})
	}
}

// TestWaitReplicasClusterNoReplica: on a cluster (whose masters have no
// replica here) the script and WAIT reach the shard's master together
// (rueidis routes the keyless WAIT with the keyed script), WAIT answers
// 0, and every Take fails closed with its unit back, home or borrowed.
func TestWaitReplicasClusterNoReplica(t *testing.T) {
	cl := redistest.StartCluster(t, 3)
	r := newRedisStore(t, newClient(t, cl.Addrs()...), func(o *RedisOptions) {
		o.WaitReplicas, o.WaitTimeout = 1, 10*time.Millisecond
		o.SyncInterval = 20 * time.Millisecond
	})
	mustWarm(t, r, Spec{Activity: "rwc", Stock: 3, Shards: 3, PerUser: 1}, false)
	for _, u := range usersHomedAt(3, 0, 3) {
		d, err := r.TakeOrder(testCtx(t, 5*time.Second), "rwc", []byte(u), []byte("order"))
		if !errors.Is(err, errUnreplicated) {
			t.Fatalf("TakeOrder(%s) = %+v, %v; want unreplicated", u, d, err)
		}
	}
	eventually(t, 10*time.Second, "nothing left to settle", func() bool { return r.Stats().Unresolved == 0 })
	mustLeft(t, r, "rwc", 3)
}
