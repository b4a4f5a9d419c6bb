package stock

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
)

// TestMemoryWarmRacesFirstSale: a Warm that replaces an unsold activity
// while its first units are being admitted must not lose those admissions
// (they would be sold again from the new load).
func TestMemoryWarmRacesFirstSale(t *testing.T) {
	ctx := context.Background()
	for round := 0; round < 50; round++ {
		m := NewMemory()
		if err := m.Warm(ctx, Spec{Activity: "a", Stock: 1000, Shards: 4, PerUser: 1}, false); err != nil {
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
					d, _ := m.Take(ctx, "a", []byte("u"+strconv.Itoa(g)+"-"+strconv.Itoa(i)))
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
				if err := m.Warm(ctx, Spec{Activity: "a", Stock: 1000 + i, Shards: 4, PerUser: 1}, false); err == nil {
					atomic.StoreInt64(&final, 1000+i)
				}
			}
		}()
		close(start)
		wg.Wait()
		left, _ := m.Left(ctx, "a")
		if sold := atomic.LoadInt64(&final) - left; sold != admitted.Load() {
			t.Fatalf("round %d: %d admitted but the store shows %d sold", round, admitted.Load(), sold)
		}
	}
}
