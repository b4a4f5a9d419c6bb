package stock

import (
	"testing"
	"time"
)

// TestVersionSurvivesRedisLoss: Redis losing everything (FLUSHALL, as a
// restart without persistence) and a warm of the same sale after it
// never repeats a load version, so no Idempotency-Key of the new load is
// one of the old load's (a backend would answer the new order as a
// duplicate of the old one).
func TestVersionSurvivesRedisLoss(t *testing.T) {
	s, _ := open(t, standaloneTopo)
	defer s.Close()
	r := s.(*RedisStore)
	spec := Spec{Activity: "vloss", Stock: 5, Shards: 2, PerUser: 1}
	mustWarm(t, s, spec, false)
	before := mustTake(t, s, "vloss", "cr2", Admitted)
	ctx := testCtx(t, 10*time.Second)
	if err := r.c.Do(ctx, r.c.B().Flushall().Build()).Error(); err != nil {
		t.Fatal(err)
	}
	// A restart of Redis takes longer than the second the version's
	// clock counts in (see meta.lua); a flush is faster, so wait it out.
	time.Sleep(1100 * time.Millisecond)
	mustWarm(t, s, spec, false)
	eventually(t, 10*time.Second, "the new load", func() bool {
		d, err := s.Take(ctx, "vloss", []byte("cr2"))
		if err != nil || d.Result != Admitted {
			return false
		}
		if d.Seq == before.Seq {
			t.Fatalf("seq %d reused after the loss: the same Idempotency-Key as the old load's order", d.Seq)
		}
		return true
	})
}

// TestClockVersion: the caller's clock floor counts seconds from
// 2026-01-01 and stays 0 outside the range a version may take.
func TestClockVersion(t *testing.T) {
	epoch := time.Unix(versionEpoch, 0)
	for _, tc := range []struct {
		at   time.Time
		want int64
	}{
		{epoch.Add(-time.Hour), 0},
		{epoch.Add(90 * time.Second), 90},
		{epoch.Add((maxClockVersion + 1) * time.Second), 0},
	} {
		if got := clockVersion(tc.at); got != tc.want {
			t.Errorf("clockVersion(%s) = %d, want %d", tc.at, got, tc.want)
		}
	}
}
