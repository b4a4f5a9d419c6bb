package stock

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flashgate/flashgate/internal/redistest"
)

// crashFixture is an activity of 2 units on 2 shards whose shard 0 is
// drained, and a user u homed on shard 0 whose take.lua has just answered
// "borrow": the state a gateway leaves when it dies right there.
type crashFixture struct {
	r   *RedisStore
	act string
	a   *redisAct
	u   string
	n   int64
	id  string
}

func newCrash(t *testing.T, r *RedisStore, act string) *crashFixture {
	t.Helper()
	mustWarm(t, r, Spec{Activity: act, Stock: 2, Shards: 2, PerUser: 1}, false)
	users := usersHomedAt(2, 0, 2)
	if d := mustTake(t, r, act, users[0], Admitted); d.Shard != 0 {
		t.Fatalf("first unit from shard %d, want 0", d.Shard)
	}
	a, err := r.act(testCtx(t, 5*time.Second), act)
	if err != nil || a == nil {
		t.Fatalf("spec of %s: %v, %v", act, a, err)
	}
	f := &crashFixture{r: r, act: act, a: a, u: users[1]}
	v, err := r.run(testCtx(t, 5*time.Second), "take", takeScript, f.a.keys[0], []string{f.a.verStr, f.u, "0", newAttempt(), f.a.puStr})
	if err != nil || v&7 != codeBorrow {
		t.Fatalf("take.lua = %d (code %d), %v; want borrow", v, v&7, err)
	}
	f.n = v >> 3
	f.id = orderID(f.n, f.u)
	return f
}

func (f *crashFixture) borrow(t *testing.T, shard int) int64 {
	t.Helper()
	code, err := f.r.run(testCtx(t, 5*time.Second), "borrow", borrowScript, f.a.keys[shard], []string{f.a.verStr, f.id})
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// state reads u's ledger on shard 0: units counted, pending, held-on.
func (f *crashFixture) state(t *testing.T) (count, pending int64, heldOn string) {
	t.Helper()
	ctx := testCtx(t, 5*time.Second)
	c, k := f.r.c, f.a.keys[0]
	rec, _ := c.Do(ctx, c.B().Hget().Key(k[kState]).Field(recordField(f.u)).Build()).ToString()
	pending, _ = c.Do(ctx, c.B().Zcard().Key(k[kPend]).Build()).AsInt64()
	if rec != "" {
		count = int64(strings.Count(rec, ";"))
	}
	if t, ok := heldOnShard(rec, f.n); ok {
		heldOn = strconv.Itoa(t)
	}
	return count, pending, heldOn
}

func (f *crashFixture) reconcile(t *testing.T, age time.Duration, want int) {
	t.Helper()
	n, err := f.r.reconcile(testCtx(t, 5*time.Second), age)
	if err != nil || n != want {
		t.Fatalf("reconcile = %d, %v; want %d resolved", n, err, want)
	}
}

func TestReconcile(t *testing.T) {
	srv := redistest.Start(t)
	// No background reconcile: the test drives every step.
	r := newRedisStore(t, newClient(t, srv.Addr()), func(o *RedisOptions) {
		o.PendingAge, o.SyncInterval = time.Hour, time.Hour
	})
	tests := []struct {
		name string
		run  func(t *testing.T, f *crashFixture)
	}{
		{"crash before borrow: rolled back, late borrow fenced", func(t *testing.T, f *crashFixture) {
			if c, p, _ := f.state(t); c != 1 || p != 1 {
				t.Fatalf("before: count %d, pending %d; want 1, 1", c, p)
			}
			f.reconcile(t, 0, 1)
			if c, p, h := f.state(t); c != 0 || p != 0 || h != "" {
				t.Fatalf("after: count %d, pending %d, held %q; want rolled back", c, p, h)
			}
			if code := f.borrow(t, 1); code != codeFenced {
				t.Fatalf("late borrow = %d, want fenced (%d)", code, codeFenced)
			}
			mustLeft(t, f.r, f.act, 1)
			d := mustTake(t, f.r, f.act, f.u, Admitted) // the allowance is back
			if d.Seq <= makeSeq(f.a.version, f.n) || d.Shard != 1 {
				t.Errorf("retake = %+v, want shard 1 and seq > %d", d, makeSeq(f.a.version, f.n))
			}
		}},
		{"crash after borrow: settled as held", func(t *testing.T, f *crashFixture) {
			if code := f.borrow(t, 1); code != codeAdmitted {
				t.Fatalf("borrow = %d, want admitted", code)
			}
			mustLeft(t, f.r, f.act, 0)
			f.reconcile(t, 0, 1)
			if c, p, h := f.state(t); c != 1 || p != 0 || h != "1" {
				t.Fatalf("after: count %d, pending %d, held %q; want 1, 0, \"1\"", c, p, h)
			}
			mustLeft(t, f.r, f.act, 0)
			mustTake(t, f.r, f.act, f.u, LimitReached) // the reconciled unit counts
			ok, err := f.r.Release(testCtx(t, 5*time.Second), f.act, []byte(f.u), makeSeq(f.a.version, f.n))
			if !ok || err != nil {
				t.Fatalf("Release of the reconciled unit = %v, %v", ok, err)
			}
			mustLeft(t, f.r, f.act, 1)
			mustTake(t, f.r, f.act, f.u, Admitted)
		}},
		{"young mark left alone, then settled by its Take", func(t *testing.T, f *crashFixture) {
			if n, err := f.r.Reconcile(testCtx(t, 5*time.Second)); n != 0 || err != nil {
				t.Fatalf("Reconcile = %d, %v; want 0: the mark is younger than PendingAge", n, err)
			}
			d, err := f.r.borrow(testCtx(t, 5*time.Second), f.a, 0, f.u, f.n, "", "")
			if err != nil || d.Result != Admitted || d.Shard != 1 {
				t.Fatalf("borrow = %+v, %v; want admitted on shard 1", d, err)
			}
			if c, p, h := f.state(t); c != 1 || p != 0 || h != "1" {
				t.Fatalf("after: count %d, pending %d, held %q", c, p, h)
			}
		}},
		{"reconcile overtakes a live Take: the Take fails closed", func(t *testing.T, f *crashFixture) {
			f.reconcile(t, 0, 1)
			_, err := f.r.borrow(testCtx(t, 5*time.Second), f.a, 0, f.u, f.n, "", "")
			if !isUnavailable(err) {
				t.Fatalf("borrow after reconcile = %v, want ErrUnavailable", err)
			}
			if c, p, _ := f.state(t); c != 0 || p != 0 {
				t.Fatalf("after: count %d, pending %d; want the allowance given back once", c, p)
			}
			mustLeft(t, f.r, f.act, 1)
		}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, newCrash(t, r, "crash"+strconv.Itoa(i)))
		})
	}
}

// TestScriptsOneSlot runs every script through a 3-master cluster, which
// refuses a script whose keys span two slots; a control script that does
// span two shards is refused, so the check is real.
func TestScriptsOneSlot(t *testing.T) {
	cl := redistest.StartCluster(t, 3)
	r := newRedisStore(t, newClient(t, cl.Addrs()...), func(o *RedisOptions) {
		o.PendingAge, o.SyncInterval = time.Hour, time.Hour
	})
	ctx := testCtx(t, 30*time.Second)
	// Warm: meta.lua and load.lua on all 16 shards (spread over the nodes).
	mustWarm(t, r, Spec{Activity: "slots", Stock: 16, Shards: 16, PerUser: 1}, false)
	// TopUp: topup.lua on every shard.
	if err := r.TopUp(ctx, "slots", 16); err != nil {
		t.Fatalf("TopUp: %v", err)
	}
	// take.lua, then borrow.lua and settle.lua for users whose home is
	// drained, then release.lua and unhold.lua.
	users := usersHomedAt(3, 0, 16)
	var last Decision
	for _, u := range users {
		last = mustTake(t, r, "slots", u, Admitted)
	}
	if last.Shard == 0 {
		t.Fatal("third user homed on shard 0 was not served by borrowing")
	}
	if ok, err := r.Release(ctx, "slots", []byte(users[2]), last.Seq); !ok || err != nil {
		t.Fatalf("Release = %v, %v", ok, err)
	}
	// pending.lua, fence.lua, settle.lua through Reconcile.
	a, err := r.act(ctx, "slots")
	if err != nil || a == nil {
		t.Fatalf("spec: %v, %v", a, err)
	}
	f := &crashFixture{r: r, act: "slots", a: a, u: usersHomedAt(4, 0, 16)[3]}
	r.drainShard(t, f.a, 0)
	v, err := r.run(ctx, "take", takeScript, f.a.keys[0], []string{f.a.verStr, f.u, "0", newAttempt(), f.a.puStr})
	if err != nil || v&7 != codeBorrow {
		t.Fatalf("take.lua = %d, %v; want borrow", v, err)
	}
	f.n, f.id = v>>3, orderID(v>>3, f.u)
	f.reconcile(t, 0, 1)

	// The control: keys of shards 0 and 1 in one script, sent straight to
	// the node that owns shard 0's slot.
	k0, k1 := shardKeys(r.prefix, "slots", 0)[kState], shardKeys(r.prefix, "slots", 1)[kState]
	refused := false
	for _, addr := range cl.Addrs() {
		c := newSingleClient(t, addr)
		err := c.Do(ctx, c.B().Eval().Script("return redis.call('HGET', KEYS[1], 's')").Numkeys(2).Key(k0, k1).Build()).Error()
		if err == nil {
			t.Fatalf("node %s ran a script over two shards' slots", addr)
		}
		refused = true
	}
	if !refused {
		t.Fatal("control not run")
	}
}

// drainShard takes shard i's stock to zero directly.
func (r *RedisStore) drainShard(t *testing.T, a *redisAct, i int) {
	t.Helper()
	if err := r.c.Do(context.Background(), r.c.B().Hset().Key(a.keys[i][kState]).FieldValue().FieldValue("s", "0").Build()).Error(); err != nil {
		t.Fatal(err)
	}
}
