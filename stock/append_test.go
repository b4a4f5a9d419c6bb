package stock

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flashgate/flashgate/internal/redistest"
)

// TestOrderAppend checks the async mode of take.lua and borrow.lua: the
// order goes to the orders Stream of the shard whose stock was decremented,
// in the same call, and only when that call takes the unit.
func TestOrderAppend(t *testing.T) {
	const order = "order-body"
	tests := []struct {
		name string
		// run gets an activity of 2 units on 2 shards whose shard 0 is
		// drained, and u, a user homed on shard 0. It returns the entries
		// wanted on each shard's Stream (order id -> order).
		run func(t *testing.T, f *abandonFixture) [2]map[string]string
	}{
		{"admitted on the home shard: appended there", func(t *testing.T, f *abandonFixture) [2]map[string]string {
			u := usersHomedAt(1, 1, 2)[0]
			v := f.orderTake(t, u, order)
			if v&7 != codeAdmitted {
				t.Fatalf("take.lua = %d, want admitted", v&7)
			}
			return [2]map[string]string{{}, {orderID(v>>3, u): order}}
		}},
		{"limit reached: nothing appended", func(t *testing.T, f *abandonFixture) [2]map[string]string {
			u := usersHomedAt(1, 1, 2)[0]
			v := f.orderTake(t, u, order)
			if code := f.orderTake(t, u, "second") & 7; code != codeLimit {
				t.Fatalf("second take.lua = %d, want limit reached", code)
			}
			return [2]map[string]string{{}, {orderID(v>>3, u): order}}
		}},
		{"borrowed: appended on the lending shard, once", func(t *testing.T, f *abandonFixture) [2]map[string]string {
			v := f.orderTake(t, f.u, order)
			if v&7 != codeBorrow {
				t.Fatalf("take.lua = %d, want borrow", v&7)
			}
			id := orderID(v>>3, f.u)
			for range 2 { // the retry finds its own order record
				if code := f.script(t, borrowScript, 1, id, streamValue(f.a.verStr, order)); code != codeAdmitted {
					t.Fatalf("borrow.lua = %d, want admitted", code)
				}
			}
			return [2]map[string]string{{}, {id: order}}
		}},
		{"every shard empty: nothing appended", func(t *testing.T, f *abandonFixture) [2]map[string]string {
			f.r.drainShard(t, f.a, 1)
			v := f.orderTake(t, f.u, order)
			if code := f.script(t, borrowScript, 1, orderID(v>>3, f.u), streamValue(f.a.verStr, order)); code != codeEmpty {
				t.Fatalf("borrow.lua = %d, want empty", code)
			}
			return [2]map[string]string{{}, {}}
		}},
		{"sync mode: no Stream", func(t *testing.T, f *abandonFixture) [2]map[string]string {
			u := usersHomedAt(1, 1, 2)[0]
			if code := f.takeLua(t, u, "x") & 7; code != codeAdmitted {
				t.Fatalf("take.lua = %d, want admitted", code)
			}
			return [2]map[string]string{{}, {}}
		}},
	}
	for _, tp := range []topo{standaloneTopo, clusterTopo} {
		t.Run(tp.String(), func(t *testing.T) {
			_, another := open(t, tp)
			r := another()
			for i, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					f := newAbandonFixture(t, r, "ap"+strconv.Itoa(i))
					want := tc.run(t, f)
					for shard := range want {
						got := f.stream(t, shard)
						if len(got) != len(want[shard]) {
							t.Errorf("shard %d Stream = %q, want %q", shard, got, want[shard])
						}
						for id, o := range want[shard] {
							if got[id] != o {
								t.Errorf("shard %d Stream[%s] = %q, want %q", shard, id, got[id], o)
							}
						}
					}
				})
			}
		})
	}
}

// orderTake runs take.lua in async mode (all four keys, an order) for user.
func (f *abandonFixture) orderTake(t *testing.T, user, order string) int64 {
	t.Helper()
	h := homeShard(user, f.a.shards)
	return f.script(t, takeScript, h, user, f.a.idx[h], newAttempt(), f.a.puStr, streamValue(f.a.verStr, order))
}

// stream reads shard i's orders Stream as order id -> order, checking
// that every entry has the one field take.lua writes (n:user ->
// "version:order") with the fixture's version.
func (f *abandonFixture) stream(t *testing.T, i int) map[string]string {
	t.Helper()
	c := f.r.c
	res, err := c.Do(testCtx(t, 5*time.Second), c.B().Xrange().Key(f.a.keys[i][kOrders]).Start("-").End("+").Build()).AsXRange()
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]string)
	for _, e := range res {
		n, user, version, order, ok := parseEntry(e.FieldValues)
		if !ok || version != f.a.version {
			t.Errorf("shard %d entry %s = %q: not n:user -> %d:order", i, e.ID, e.FieldValues, f.a.version)
			continue
		}
		out[orderID(n, user)] = order
	}
	return out
}

// TestTakeCommand runs the command lines redis-benchmark is given, with
// its placeholders filled in, and checks that they admit as a Take does,
// the async one appending its order.
func TestTakeCommand(t *testing.T) {
	r := newRedisStore(t, newClient(t, redistest.Start(t).Addr()), nil)
	ctx := testCtx(t, 10*time.Second)
	mustWarm(t, r, Spec{Activity: "cmd", Stock: 10, Shards: 2, PerUser: 1}, false)
	if err := r.c.Do(ctx, r.c.B().ScriptLoad().Script(TakeScript()).Build()).Error(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, order string
		user        string
		entries     int64
	}{
		{"sync", "", "1", 0},
		{"async", strings.Repeat("o", 256), "2", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmd, err := r.TakeCommand(ctx, "cmd", 1, tc.order)
			if err != nil {
				t.Fatal(err)
			}
			args := make([]string, len(cmd))
			for i, a := range cmd {
				args[i] = strings.ReplaceAll(a, "__rand_int__", tc.user)
			}
			v, err := r.c.Do(ctx, r.c.B().Arbitrary(args[0]).Args(args[1:]...).Build()).AsInt64()
			if err != nil || v&7 != codeAdmitted {
				t.Fatalf("%q = %d, %v; want admitted", args, v, err)
			}
			n, err := r.c.Do(ctx, r.c.B().Xlen().Key(shardKeys(r.prefix, "cmd", 1)[kOrders]).Build()).AsInt64()
			if err != nil || n != tc.entries {
				t.Errorf("orders Stream holds %d entries (%v), want %d", n, err, tc.entries)
			}
		})
	}
	mustLeft(t, r, "cmd", 8)
}
