package stock

import (
	"strconv"
	"testing"
	"time"

	"github.com/redis/rueidis"
)

// TestAbandonScripts drives abandon.lua through each state a lost Take can
// leave on Redis, on both topologies (the cluster refuses a script that
// reaches a second slot).
func TestAbandonScripts(t *testing.T) {
	tests := []struct {
		name string
		// run gets an activity of 2 units on 2 shards whose shard 0 is
		// drained, and u, a user homed on shard 0.
		run func(t *testing.T, f *abandonFixture)
	}{
		{"not run yet: fenced, the late take.lua does nothing", func(t *testing.T, f *abandonFixture) {
			f.abandon(t, "x", false)
			if l := f.ledgers(t); l.fences != 1 {
				t.Fatalf("fences %d, want 1", l.fences)
			}
			if code := f.takeLua(t, f.u, "x") & 7; code != codeFenced {
				t.Fatalf("late take.lua = %d, want fenced (%d)", code, codeFenced)
			}
			if l := f.ledgers(t); l.counts != 1 || l.pend != 0 || l.fences != 0 {
				t.Fatalf("after the late take.lua: %+v, want it a no-op that used its fence up", l)
			}
			mustLeft(t, f.r, f.act, 1)
			if d := mustTake(t, f.r, f.act, f.u, Admitted); d.Shard != 1 {
				t.Errorf("Take after the fence: shard %d, want 1", d.Shard)
			}
		}},
		{"admitted on the home shard: given back", func(t *testing.T, f *abandonFixture) {
			u := usersHomedAt(1, 1, 2)[0]
			if code := f.takeLua(t, u, "x") & 7; code != codeAdmitted {
				t.Fatalf("take.lua = %d, want admitted", code)
			}
			mustLeft(t, f.r, f.act, 0)
			f.abandonOf(t, u, "x", true)
			mustLeft(t, f.r, f.act, 1)
			f.abandonOf(t, u, "x", false) // repeated: nothing left to undo
			if l := f.ledgers(t); l.counts != 1 || l.held != 1 || l.att != 1 {
				t.Errorf("ledgers %+v, want only the first buyer's unit", l)
			}
			mustTake(t, f.r, f.act, u, Admitted)
		}},
		{"borrowed and settled: given back on the lending shard", func(t *testing.T, f *abandonFixture) {
			id := f.borrowed(t, "x")
			n, _, _ := parseOrderID(id)
			if code := f.script(t, settleScript, 0, id, f.u, "1", strconv.FormatInt(n, 10)); code != 1 {
				t.Fatalf("settle.lua = %d, want held", code)
			}
			mustLeft(t, f.r, f.act, 0)
			f.abandon(t, "x", true)
			mustLeft(t, f.r, f.act, 1)
			if d := mustTake(t, f.r, f.act, f.u, Admitted); d.Shard != 1 {
				t.Errorf("Take after the give-back: shard %d, want 1", d.Shard)
			}
		}},
		{"borrowed, not settled: resolved as held, then given back", func(t *testing.T, f *abandonFixture) {
			f.borrowed(t, "x")
			f.abandon(t, "x", true)
			if l := f.ledgers(t); l.pend != 0 || l.counts != 1 || l.held != 1 || l.att != 1 {
				t.Errorf("ledgers %+v, want only the first buyer's unit", l)
			}
			mustLeft(t, f.r, f.act, 1)
			mustTake(t, f.r, f.act, f.u, Admitted)
		}},
		{"borrow pending, nothing taken: rolled back, late borrow fenced", func(t *testing.T, f *abandonFixture) {
			v := f.takeLua(t, f.u, "x")
			if v&7 != codeBorrow {
				t.Fatalf("take.lua = %d, want borrow", v&7)
			}
			f.abandon(t, "x", false)
			if l := f.ledgers(t); l.pend != 0 || l.counts != 1 {
				t.Errorf("ledgers %+v, want the allowance back", l)
			}
			if code := f.script(t, borrowScript, 1, orderID(v>>3, f.u)); code != codeFenced {
				t.Errorf("late borrow.lua = %d, want fenced", code)
			}
			mustLeft(t, f.r, f.act, 1)
			mustTake(t, f.r, f.act, f.u, Admitted)
		}},
		{"limit reached: nothing to undo", func(t *testing.T, f *abandonFixture) {
			first := usersHomedAt(1, 0, 2)[0] // holds shard 0's unit
			if code := f.takeLua(t, first, "x") & 7; code != codeLimit {
				t.Fatalf("take.lua = %d, want limit", code)
			}
			f.abandonOf(t, first, "x", false)
			if l := f.ledgers(t); l.counts != 1 || l.held != 1 {
				t.Errorf("ledgers %+v, want the first unit still held", l)
			}
			mustLeft(t, f.r, f.act, 1)
		}},
		{"another load: dropped", func(t *testing.T, f *abandonFixture) {
			u := usersHomedAt(1, 1, 2)[0]
			if code := f.takeLua(t, u, "x") & 7; code != codeAdmitted {
				t.Fatalf("take.lua = %d, want admitted", code)
			}
			mustWarm(t, f.r, Spec{Activity: f.act, Stock: 5, Shards: 2, PerUser: 1}, true)
			f.abandonOf(t, u, "x", false)
			mustLeft(t, f.r, f.act, 5)
		}},
	}
	for _, tp := range []topo{standaloneTopo, clusterTopo} {
		t.Run(tp.String(), func(t *testing.T) {
			_, another := open(t, tp)
			r := another()
			for i, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					tc.run(t, newAbandonFixture(t, r, "ab"+strconv.Itoa(i)))
				})
			}
		})
	}
}

type abandonFixture struct {
	r   *RedisStore
	act string
	a   *redisAct
	u   string // homed on shard 0, which is drained
}

func newAbandonFixture(t *testing.T, r *RedisStore, act string) *abandonFixture {
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
	return &abandonFixture{r: r, act: act, a: a, u: users[1]}
}

// takeLua runs take.lua for user with the given attempt id, as a Take
// whose reply nobody reads.
func (f *abandonFixture) takeLua(t *testing.T, user, attempt string) int64 {
	t.Helper()
	h := homeShard(user, f.a.shards)
	return f.script(t, takeScript, h, user, f.a.idx[h], attempt, f.a.puStr)
}

// borrowed leaves u's attempt with a unit borrowed from shard 1, unsettled.
func (f *abandonFixture) borrowed(t *testing.T, attempt string) string {
	t.Helper()
	v := f.takeLua(t, f.u, attempt)
	if v&7 != codeBorrow {
		t.Fatalf("take.lua = %d, want borrow", v&7)
	}
	id := orderID(v>>3, f.u)
	if code := f.script(t, borrowScript, 1, id); code != codeAdmitted {
		t.Fatalf("borrow.lua = %d, want admitted", code)
	}
	return id
}

// script runs s on shard i with the spec version as the first argument.
func (f *abandonFixture) script(t *testing.T, s *rueidis.Lua, i int, args ...string) int64 {
	t.Helper()
	v, err := f.r.run(testCtx(t, 5*time.Second), "test", s, f.a.keys[i], append([]string{f.a.verStr}, args...))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func (f *abandonFixture) abandon(t *testing.T, attempt string, want bool) {
	t.Helper()
	f.abandonOf(t, f.u, attempt, want)
}

func (f *abandonFixture) abandonOf(t *testing.T, user, attempt string, want bool) {
	t.Helper()
	got, err := f.r.abandon(testCtx(t, 10*time.Second), abandonEntry{a: f.a, user: user, attempt: attempt})
	if err != nil || got != want {
		t.Fatalf("abandon(%s) = %v, %v; want %v, nil", attempt, got, err, want)
	}
}

func (f *abandonFixture) ledgers(t *testing.T) ledgers { return readLedgers(t, f.r, f.act, 2) }
