package stock

import (
	"errors"
	"testing"
	"time"
)

// TestUndersell puts every buyer's ledger on shard 0: the other three
// shards' units must still sell, through borrowing.
func TestUndersell(t *testing.T) {
	for _, tp := range allTopos {
		t.Run(tp.String(), func(t *testing.T) {
			s, _ := open(t, tp)
			mustWarm(t, s, Spec{Activity: "under", Stock: 4, Shards: 4, PerUser: 1}, false)
			users := usersHomedAt(6, 0, 4)
			shards := map[int]bool{}
			for _, u := range users[:4] {
				d := mustTake(t, s, "under", u, Admitted)
				shards[d.Shard] = true
			}
			if len(shards) != 4 {
				t.Errorf("units came from shards %v, want all four", shards)
			}
			mustLeft(t, s, "under", 0)
			for _, u := range users[4:] {
				mustTake(t, s, "under", u, SoldOut)
			}
			if !s.SoldOut("under") {
				t.Error("SoldOut = false after every shard answered empty")
			}
			mustTake(t, s, "under", users[0], SoldOut) // local answer now
		})
	}
}

func TestRelease(t *testing.T) {
	for _, tp := range allTopos {
		t.Run(tp.String(), func(t *testing.T) {
			s, another := open(t, tp)
			ctx := testCtx(t, 20*time.Second)
			mustWarm(t, s, Spec{Activity: "rel", Stock: 2, Shards: 2, PerUser: 1}, false)
			a := mustTake(t, s, "rel", "alice", Admitted)
			mustTake(t, s, "rel", "alice", LimitReached)
			mustTake(t, s, "rel", "bob", Admitted)
			mustTake(t, s, "rel", "carol", SoldOut)
			if !s.SoldOut("rel") {
				t.Fatal("SoldOut = false after a SoldOut answer")
			}
			var second Store
			if another != nil {
				second = another()
				mustTake(t, second, "rel", "dave", SoldOut)
				if !second.SoldOut("rel") {
					t.Fatal("second store: SoldOut = false after a SoldOut answer")
				}
			}

			releases := []struct {
				name string
				user string
				seq  int64
				want bool
			}{
				{"unknown seq", "alice", a.Seq + 100, false},
				{"other user's seq", "carol", a.Seq, false},
				{"the unit", "alice", a.Seq, true},
				{"repeated", "alice", a.Seq, false},
				{"unknown activity", "alice", a.Seq, false},
			}
			for _, tc := range releases {
				act := "rel"
				if tc.name == "unknown activity" {
					act = "nope"
				}
				ok, err := s.Release(ctx, act, []byte(tc.user), tc.seq)
				if err != nil || ok != tc.want {
					t.Errorf("%s: Release = %v, %v; want %v, nil", tc.name, ok, err, tc.want)
				}
			}
			mustLeft(t, s, "rel", 1)
			if s.SoldOut("rel") {
				t.Error("SoldOut = true on the releasing store right after the release")
			}
			if second != nil {
				took := eventually(t, time.Second, "second store learns of the release", func() bool { return !second.SoldOut("rel") })
				t.Logf("second store cleared SoldOut after %v", took)
			}
			again := mustTake(t, s, "rel", "alice", Admitted)
			if again.Seq <= a.Seq {
				t.Errorf("seq after release = %d, want > %d", again.Seq, a.Seq)
			}
			mustTake(t, s, "rel", "alice", LimitReached)
			mustTake(t, s, "rel", "carol", SoldOut)
		})
	}
}

func TestWarm(t *testing.T) {
	for _, tp := range []topo{memTopo, standaloneTopo, clusterTopo} {
		t.Run(tp.String(), func(t *testing.T) {
			s, _ := open(t, tp)
			ctx := testCtx(t, 20*time.Second)
			spec := Spec{Activity: "warm", Stock: 10, Shards: 3, PerUser: 2}
			mustWarm(t, s, spec, false)
			mustWarm(t, s, spec, false)
			// A different spec before anything sold simply replaces it.
			spec.Stock = 12
			mustWarm(t, s, spec, false)
			mustLeft(t, s, "warm", 12)
			first := mustTake(t, s, "warm", "alice", Admitted)
			mustTake(t, s, "warm", "bob", Admitted)
			mustTake(t, s, "warm", "bob", Admitted)
			mustWarm(t, s, spec, false) // same spec mid-sale: a no-op
			mustLeft(t, s, "warm", 9)
			mustTake(t, s, "warm", "bob", LimitReached)

			bigger := spec
			bigger.Stock = 100
			if err := s.Warm(ctx, bigger, false); !errors.Is(err, ErrExists) {
				t.Fatalf("Warm(different spec, no force) after sales = %v, want ErrExists", err)
			}
			mustLeft(t, s, "warm", 9)
			bigger.Shards = 5
			mustWarm(t, s, bigger, true)
			mustLeft(t, s, "warm", 100)
			mustTake(t, s, "warm", "bob", Admitted) // ledgers were reset
			again := mustTake(t, s, "warm", "alice", Admitted)
			if again.Seq <= first.Seq {
				t.Errorf("seq after a forced re-warm = %d, want > %d (never reused)", again.Seq, first.Seq)
			}
			if ok, err := s.Release(ctx, "warm", []byte("alice"), first.Seq); ok || err != nil {
				t.Errorf("Release of a unit from before the reset = %v, %v; want false, nil", ok, err)
			}
			mustTake(t, s, "nowarm", "alice", NotLoaded)
			mustLeft(t, s, "nowarm", -1)
			if err := s.TopUp(ctx, "nowarm", 1); !errors.Is(err, ErrNotLoaded) {
				t.Errorf("TopUp(not loaded) = %v, want ErrNotLoaded", err)
			}

			bad := []Spec{
				{Activity: "", Stock: 1, Shards: 1, PerUser: 1},
				{Activity: "a:b", Stock: 1, Shards: 1, PerUser: 1},
				{Activity: "a{b}", Stock: 1, Shards: 1, PerUser: 1},
				{Activity: "ok", Stock: -1, Shards: 1, PerUser: 1},
				{Activity: "ok", Stock: 1, Shards: 0, PerUser: 1},
				{Activity: "ok", Stock: 1, Shards: MaxShards + 1, PerUser: 1},
				{Activity: "ok", Stock: 1, Shards: 1, PerUser: 0},
			}
			for _, b := range bad {
				if err := s.Warm(ctx, b, true); !errors.Is(err, ErrBadSpec) {
					t.Errorf("Warm(%+v) = %v, want ErrBadSpec", b, err)
				}
			}
		})
	}
}

func TestTopUp(t *testing.T) {
	for _, tp := range []topo{memTopo, standaloneTopo} {
		t.Run(tp.String(), func(t *testing.T) {
			s, another := open(t, tp)
			ctx := testCtx(t, 20*time.Second)
			mustWarm(t, s, Spec{Activity: "top", Stock: 0, Shards: 4, PerUser: 5}, false)
			mustTake(t, s, "top", "alice", SoldOut)
			var second Store
			if another != nil {
				second = another()
				mustTake(t, second, "top", "bob", SoldOut)
			}
			if !s.SoldOut("top") {
				t.Fatal("an empty activity is not SoldOut")
			}
			if err := s.TopUp(ctx, "top", 3); err != nil {
				t.Fatalf("TopUp: %v", err)
			}
			mustLeft(t, s, "top", 3)
			if s.SoldOut("top") {
				t.Error("still SoldOut on the topping-up store")
			}
			if second != nil {
				eventually(t, time.Second, "second store learns of the top-up", func() bool { return !second.SoldOut("top") })
			}
			for range 3 {
				mustTake(t, s, "top", "alice", Admitted)
			}
			mustTake(t, s, "top", "alice", SoldOut)
			if err := s.TopUp(ctx, "top", 0); !errors.Is(err, ErrBadSpec) {
				t.Errorf("TopUp(0) = %v, want ErrBadSpec", err)
			}
		})
	}
}

func TestSpecValidate(t *testing.T) {
	tests := []struct {
		name string
		spec Spec
		ok   bool
	}{
		{"minimal", Spec{Activity: "a", Stock: 0, Shards: 1, PerUser: 1}, true},
		{"max shards", Spec{Activity: "A-z_09", Stock: 5, Shards: MaxShards, PerUser: 3}, true},
		{"64 chars", Spec{Activity: string(make64('x')), Stock: 1, Shards: 1, PerUser: 1}, true},
		{"65 chars", Spec{Activity: string(make64('x')) + "x", Stock: 1, Shards: 1, PerUser: 1}, false},
		{"space", Spec{Activity: "a b", Stock: 1, Shards: 1, PerUser: 1}, false},
		{"negative stock", Spec{Activity: "a", Stock: -1, Shards: 1, PerUser: 1}, false},
		{"no shards", Spec{Activity: "a", Stock: 1, Shards: 0, PerUser: 1}, false},
		{"zero per user", Spec{Activity: "a", Stock: 1, Shards: 1, PerUser: 0}, false},
		{"pay within 15m", Spec{Activity: "a", Stock: 1, Shards: 1, PerUser: 1, PayWithin: 15 * time.Minute}, true},
		{"pay within 1ms", Spec{Activity: "a", Stock: 1, Shards: 1, PerUser: 1, PayWithin: time.Millisecond}, true},
		{"pay within under 1ms", Spec{Activity: "a", Stock: 1, Shards: 1, PerUser: 1, PayWithin: time.Microsecond}, false},
		{"pay within over 720h", Spec{Activity: "a", Stock: 1, Shards: 1, PerUser: 1, PayWithin: MaxPayWithin + 1}, false},
		{"negative pay within", Spec{Activity: "a", Stock: 1, Shards: 1, PerUser: 1, PayWithin: -time.Second}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.spec.Validate()
			if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrBadSpec)) {
				t.Errorf("Validate() = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func make64(c byte) []byte {
	b := make([]byte, 64)
	for i := range b {
		b[i] = c
	}
	return b
}
