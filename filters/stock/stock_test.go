package stock

import (
	"context"
	"testing"
	"time"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/gateway"
	"github.com/flashgate/flashgate/internal/filtertest"
	store "github.com/flashgate/flashgate/stock"
)

// setup builds the filter over a memory store holding units of stock.
func setup(t testing.TB, units int64) (gateway.Filter, store.Store, *gateway.Activity) {
	t.Helper()
	st := store.NewMemory()
	t.Cleanup(func() { _ = st.Close() })
	act := gateway.NewActivity(0, conf.Activity{ID: "a1", Product: "p1", Stock: units, Shards: 2, PerUser: 1})
	if err := st.Warm(context.Background(), gateway.SpecOf(act), false); err != nil {
		t.Fatal(err)
	}
	return build(t, st, act), st, act
}

// build is the stock filter over st for a route of act, with redis.timeout
// at 100ms.
func build(t testing.TB, st store.Store, act *gateway.Activity) gateway.Filter {
	t.Helper()
	env := filtertest.Env(act)
	env.Config = &conf.Config{Redis: conf.Redis{Timeout: 100 * time.Millisecond}}
	env.Units = gateway.NewUnits(st, nil)
	t.Cleanup(func() { _ = env.Units.Close() })
	return filtertest.Filter[gateway.Filter](t, env, "stock", nil)
}

func TestStockFilter(t *testing.T) {
	f, st, act := setup(t, 2)
	tests := []struct {
		name   string
		user   string
		action gateway.Action
		reason string
	}{
		{"anonymous", "", gateway.Reject, "login_required"},
		{"first buyer", "u1", gateway.Continue, ""},
		{"same buyer again", "u1", gateway.Reject, "already_purchased"},
		{"second buyer", "u2", gateway.Continue, ""},
		{"sold out", "u3", gateway.Reject, "sold_out"},
		{"sold out from memory", "u4", gateway.Reject, "sold_out"},
	}
	seqs := map[string]int64{}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := filtertest.Request(act, tc.user, time.Now())
			defer func() { seqs[tc.user] = r.Ticket.Seq }()
			v, err := f.Handle(r)
			if err != nil {
				t.Fatal(err)
			}
			if v.Action != tc.action {
				t.Fatalf("action %d, want %d", v.Action, tc.action)
			}
			if tc.reason != "" && v.Page.Reason != tc.reason {
				t.Errorf("reason %q, want %q", v.Page.Reason, tc.reason)
			}
			if tc.action == gateway.Continue && (!r.Ticket.Held || r.Ticket.Seq < 1) {
				t.Errorf("admitted without a ticket: %+v", r.Ticket)
			}
		})
	}
	if !st.SoldOut("a1") {
		t.Error("store does not know it is sold out")
	}
	// A give-back of the ticket, through the units' one owner, returns
	// the unit to a new buyer (the memory store gives back at once).
	back := filtertest.Request(act, "u2", time.Now())
	back.Ticket = gateway.Ticket{Held: true, Seq: seqs["u2"]}
	gateway.NewUnits(st, nil).GiveBack(back, "backend_rejected")
	if back.Ticket.Held {
		t.Fatal("the ticket is still held after GiveBack")
	}
	r := filtertest.Request(act, "u1", time.Now())
	if v, _ := f.Handle(r); v.Action == gateway.Continue {
		t.Error("u1 bought twice after someone else's release")
	}
	if v, _ := f.Handle(filtertest.Request(act, "u5", time.Now())); v.Action != gateway.Continue {
		t.Errorf("released unit not sold again: %+v", v)
	}
}

// failing is a store that cannot decide.
type failing struct{ store.Store }

func (failing) SoldOut(string) bool { return false }
func (failing) Take(context.Context, string, []byte) (store.Decision, error) {
	return store.Decision{}, store.ErrUnavailable
}

func TestStockFailsClosed(t *testing.T) {
	_, st, act := setup(t, 2)
	f := build(t, failing{st}, act)
	r := filtertest.Request(act, "u1", time.Now())
	if _, err := f.Handle(r); err != gateway.ErrUnavailable {
		t.Fatalf("err %v, want ErrUnavailable", err)
	}
	if r.Ticket.Held {
		t.Error("ticket held without a decision")
	}
}

func TestConfigErrors(t *testing.T) {
	if got := filtertest.Check("stock", map[string]any{"timeout": "-1s"}); got == nil || got.Error() != "stock.timeout: must be > 0, got -1s" {
		t.Errorf("got %v", got)
	}
	if _, err := filtertest.Build(t, filtertest.Env(), "stock", nil); err == nil {
		t.Error("built without {activity}")
	}
}

// TestTimeoutLongerThanWait: with redis.wait_replicas a stock decision
// must be allowed longer than the replicas' wait, or every purchase would
// give up first.
func TestTimeoutLongerThanWait(t *testing.T) {
	_, st, act := setup(t, 2)
	tests := []struct {
		name     string
		replicas int
		timeout  string
		wantErr  string
	}{
		{"wait off", 0, "50ms", ""},
		{"longer", 1, "60ms", ""},
		{"equal", 1, "50ms", "timeout 50ms must be longer than redis.wait_timeout 50ms"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := filtertest.Env(act)
			env.Config = &conf.Config{Stock: conf.Stock{Store: "redis"},
				Redis: conf.Redis{Timeout: 100 * time.Millisecond, WaitReplicas: tc.replicas, WaitTimeout: 50 * time.Millisecond}}
			// Decided from the config, whatever the store (check builds on memory).
			env.Units = gateway.NewUnits(st, nil)
			t.Cleanup(func() { _ = env.Units.Close() })
			_, err := filtertest.Build(t, env, "stock", map[string]any{"timeout": tc.timeout})
			if got := errString(err); got != tc.wantErr {
				t.Errorf("Build = %q, want %q", got, tc.wantErr)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// boundedStore is a remote-looking store that bounds its own Takes at
// bound, and records whether a Take came with a ctx deadline.
type boundedStore struct {
	store.Store
	bound    time.Duration
	deadline bool
}

func (s *boundedStore) Timeout() time.Duration { return s.bound }

func (s *boundedStore) Take(ctx context.Context, activity string, user []byte) (store.Decision, error) {
	_, s.deadline = ctx.Deadline()
	return s.Store.Take(ctx, activity, user)
}

// TestDeadlineOnlyWhenShorter: a store that bounds its own Takes
// (stock.Bounded) gets no ctx deadline, which costs a timer per purchase,
// unless the filter's timeout is shorter than that bound.
func TestDeadlineOnlyWhenShorter(t *testing.T) {
	for _, tc := range []struct {
		name         string
		storeBound   time.Duration
		timeout      string // the filter's; "" is redis.timeout (100ms)
		wantDeadline bool
	}{
		{"default timeout, store bound equal", 100 * time.Millisecond, "", false},
		{"longer timeout than the store's", 100 * time.Millisecond, "1s", false},
		{"shorter timeout than the store's", 100 * time.Millisecond, "40ms", true},
		{"store bounds longer than redis.timeout", time.Second, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := store.NewMemory()
			t.Cleanup(func() { _ = mem.Close() })
			act := gateway.NewActivity(0, conf.Activity{ID: "a1", Product: "p1", Stock: 5, Shards: 1, PerUser: 1})
			if err := mem.Warm(context.Background(), gateway.SpecOf(act), false); err != nil {
				t.Fatal(err)
			}
			st := &boundedStore{Store: mem, bound: tc.storeBound}
			env := filtertest.Env(act)
			env.Config = &conf.Config{Redis: conf.Redis{Timeout: 100 * time.Millisecond}}
			env.Units = gateway.NewUnits(st, nil)
			t.Cleanup(func() { _ = env.Units.Close() })
			cfg := map[string]any{}
			if tc.timeout != "" {
				cfg["timeout"] = tc.timeout
			}
			f := filtertest.Filter[gateway.Filter](t, env, "stock", cfg)
			v, err := f.Handle(filtertest.Request(act, "u1", time.Now()))
			if err != nil || v.Action != gateway.Continue {
				t.Fatalf("take: %v %+v", err, v)
			}
			if st.deadline != tc.wantDeadline {
				t.Errorf("ctx deadline %v, want %v", st.deadline, tc.wantDeadline)
			}
		})
	}
}
