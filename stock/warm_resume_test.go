package stock

import (
	"strconv"
	"testing"
	"time"
)

// TestWarmFinishesHalfLoad: a Warm that died after loading some shards
// is finished by the next Warm of the same spec on the missing shards
// only. Reloading every shard would restock the ones already selling and
// sell their units twice.
func TestWarmFinishesHalfLoad(t *testing.T) {
	s, rs := open(t, standaloneTopo)
	r := rs()
	ctx := testCtx(t, 20*time.Second)
	spec := Spec{Activity: "half", Stock: 4, Shards: 2, PerUser: 1}
	mustWarm(t, s, spec, false)
	// Undo shard 1's load, as if the Warm had died before reaching it.
	k := shardKeys(r.prefix, "half", 1)
	if err := r.c.Do(ctx, r.c.B().Hset().Key(k[kState]).FieldValue().FieldValue("v", "0").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	r.drop("half")
	admitted := 0
	take := func(from, to int) {
		for i := from; i < to; i++ {
			d, err := s.Take(ctx, "half", []byte("u"+strconv.Itoa(i)))
			if err == nil && d.Result == Admitted {
				admitted++
			}
		}
	}
	take(0, 50)
	if admitted == 0 {
		t.Fatal("nothing sold from the loaded shard")
	}
	mustWarm(t, s, spec, false) // finishes shard 1 only
	take(50, 100)
	if admitted != 4 {
		t.Fatalf("admitted %d units of 4", admitted)
	}
	mustLeft(t, s, "half", 0)
}
