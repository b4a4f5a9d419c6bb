package stock

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
)

// TestWarmRacesFirstSale: a Warm that replaces an unsold activity while
// its first units are being admitted must not lose those admissions (they
// would be sold again from the new load), in memory and on Redis.
func TestWarmRacesFirstSale(t *testing.T) {
	for _, tp := range []topo{memTopo, standaloneTopo} {
		t.Run(tp.String(), func(t *testing.T) {
			rounds := 50
			if tp != memTopo {
				rounds = 8
			}
			warmRace(t, tp, rounds)
		})
	}
}

func warmRace(t *testing.T, tp topo, rounds int) {
	ctx := context.Background()
	for round := 0; round < rounds; round++ {
		m, _ := open(t, tp)
		act := "a" + strconv.Itoa(round)
		if err := m.Warm(ctx, Spec{Activity: act, Stock: 1000, Shards: 4, PerUser: 1}, false); err != nil {
			t.Fatal(err)
		}
		var admitted atomic.Int64
		var wg sync.WaitGroup
		start := make(chan struct{})
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for i := 0; i < 20; i++ {
					d, _ := m.Take(ctx, act, []byte("u"+strconv.Itoa(g)+"-"+strconv.Itoa(i)))
					if d.Result == Admitted {
						admitted.Add(1)
					}
				}
			}()
		}
		var final int64 = 1000
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := int64(1); i <= 20; i++ {
				if err := m.Warm(ctx, Spec{Activity: act, Stock: 1000 + i, Shards: 4, PerUser: 1}, false); err == nil {
					atomic.StoreInt64(&final, 1000+i)
				}
			}
		}()
		close(start)
		wg.Wait()
		left, _ := m.Left(ctx, act)
		if sold := atomic.LoadInt64(&final) - left; sold != admitted.Load() {
			t.Fatalf("round %d: %d admitted but the store shows %d sold", round, admitted.Load(), sold)
		}
	}
}
