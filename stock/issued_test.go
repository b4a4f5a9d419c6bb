package stock

import (
	"testing"
	"time"
)

// TestIssued: a store tells an order it admitted in the current load
// (released since or not) from one it never did: another user's, a
// purchase number not issued yet, or one of a load a forced warm reset.
func TestIssued(t *testing.T) {
	for _, tp := range []topo{memTopo, standaloneTopo} {
		t.Run(tp.String(), func(t *testing.T) {
			s, _ := open(t, tp)
			defer s.Close()
			spec := Spec{Activity: "iss", Stock: 5, Shards: 2, PerUser: 2}
			mustWarm(t, s, spec, false)
			d := mustTake(t, s, "iss", "alice", Admitted)
			is := s.(Issuer)
			ctx := testCtx(t, 10*time.Second)
			check := func(user string, seq int64, want bool) {
				t.Helper()
				got, err := is.Issued(ctx, "iss", []byte(user), seq)
				if err != nil || got != want {
					t.Errorf("Issued(%s, %d) = %v, %v; want %v", user, seq, got, err, want)
				}
			}
			check("alice", d.Seq, true)
			check("alice", d.Seq+1, false)
			check("bob", d.Seq, false)
			if ok, err := s.Release(ctx, "iss", []byte("alice"), d.Seq); !ok || err != nil {
				t.Fatalf("release: %v %v", ok, err)
			}
			check("alice", d.Seq, true) // released, but it was admitted
			mustWarm(t, s, spec, true)
			check("alice", d.Seq, false) // a load since reset
		})
	}
}
