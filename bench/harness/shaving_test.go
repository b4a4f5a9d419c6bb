package main

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/flashgate/flashgate/conf"
)

// TestShaveConfig loads the shaving gateways' config as the gateway
// would: the two routes differ only in the action, the async one paced
// at shaveQueueRate, each mode selling its own activity per round.
func TestShaveConfig(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{root: root, benchDir: filepath.Join(root, "bench"), tmp: t.TempDir(), rounds: 2,
		redisPort: 6390, backendAddr: "127.0.0.1:9091"}
	if err := h.writeBlacklist(); err != nil {
		t.Fatal(err)
	}
	path, err := h.writeConfig("shave", 18080, 18081, time.Now(), nil, h.shaveConfig("127.0.0.1:9092"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := conf.Load(path)
	if err != nil {
		t.Fatalf("shaving config does not load: %v", err)
	}
	if len(cfg.Routes) != 2 || len(cfg.Activities) != 2*len(shaveModes) {
		t.Fatalf("%d routes, %d activities; want 2 and %d", len(cfg.Routes), len(cfg.Activities), 2*len(shaveModes))
	}
	for i, m := range shaveModes {
		r := cfg.Routes[i]
		if r.Name != m.route || r.Action.Upstream != "slow" || (r.Action.Mode == "async") != (m.name == "async") {
			t.Fatalf("route %d = %+v, want %s on upstream slow in mode %s", i, r, m.route, m.name)
		}
		if want := []string{shaveActivity(m.name, 1), shaveActivity(m.name, 2)}; len(r.Activities) != 2 || r.Activities[0] != want[0] || r.Activities[1] != want[1] {
			t.Fatalf("route %s activities = %v, want %v", m.route, r.Activities, want)
		}
	}
	if q := cfg.Routes[1].Action.Queue; q == nil || q.Rate != shaveQueueRate || q.MaxInflight != shaveMaxInflight {
		t.Fatalf("async queue = %+v, want rate %d, max_inflight %d", q, shaveQueueRate, shaveMaxInflight)
	}
}
