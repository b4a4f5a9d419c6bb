package demobackend

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"
)

// TestLoadBuckets puts orders in 1 s buckets from the window's start, on
// an injected clock.
func TestLoadBuckets(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var l load
	l.reset(t0)
	for _, d := range []time.Duration{0, 999 * time.Millisecond, time.Second, 3500 * time.Millisecond} {
		l.created(t0.Add(d))
	}
	if want := []uint64{2, 1, 0, 1}; !reflect.DeepEqual(l.perSec, want) {
		t.Fatalf("per second = %v, want %v", l.perSec, want)
	}
	l.reset(t0.Add(time.Hour))
	if len(l.perSec) != 0 {
		t.Fatalf("after reset: %v", l.perSec)
	}
}

// TestWorkersCapConcurrency sends 6 orders at once to 2 workers: all 6
// are held at once (peak_inflight 6), 2 at a time are worked on, so the
// last one finishes no sooner than 3 × Latency; GET /orders/load counts
// the 6 and POST starts a new window.
func TestWorkersCapConcurrency(t *testing.T) {
	const n, latency = 6, 250 * time.Millisecond // generous: all 6 must arrive within one latency
	b := New(Options{Latency: latency, Workers: 2})
	c := serve(t, b)
	start := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if status, body, _ := do(t, c, order(fmt.Sprint("k", i))); status != 201 {
				t.Errorf("order %d: %d %s", i, status, body)
			}
		}(i)
	}
	wg.Wait()
	if d := time.Since(start); d < 3*latency {
		t.Fatalf("6 orders on 2 workers took %s, want >= %s", d, 3*latency)
	}
	var got struct {
		Peak int      `json:"peak_inflight"`
		Per  []uint64 `json:"per_second"`
	}
	status, body, _ := do(t, c, request{method: "GET", path: "/orders/load"})
	if err := json.Unmarshal([]byte(body), &got); status != 200 || err != nil {
		t.Fatalf("GET /orders/load: %d %s %v", status, body, err)
	}
	var sum uint64
	for _, v := range got.Per {
		sum += v
	}
	if got.Peak != n || sum != n {
		t.Fatalf("load = %s, want peak_inflight %d and %d orders", body, n, n)
	}
	if status, _, _ := do(t, c, request{method: "POST", path: "/orders/load"}); status != 204 {
		t.Fatalf("POST /orders/load: %d", status)
	}
	if _, body, _ := do(t, c, request{method: "GET", path: "/orders/load"}); body != `{"peak_inflight":0,"per_second":[]}` {
		t.Fatalf("after reset: %s", body)
	}
	if status, _, _ := do(t, c, request{method: "DELETE", path: "/orders/load"}); status != 405 {
		t.Fatalf("DELETE /orders/load: %d, want 405", status)
	}
}
