package override

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/internal/redistest"
)

var (
	t0 = time.Date(2026, 11, 11, 0, 0, 0, 0, time.UTC)
	t1 = t0.Add(time.Hour)
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		w    conf.Window
		ok   bool
	}{
		{"both bounds", conf.Window{Start: t0, End: t1}, true},
		{"start only", conf.Window{Start: t0}, true},
		{"end only", conf.Window{End: t1}, true},
		{"no bound", conf.Window{}, false},
		{"end before start", conf.Window{Start: t1, End: t0}, false},
		{"empty window", conf.Window{Start: t0, End: t0}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Validate(tc.w)
			if (err == nil) != tc.ok {
				t.Fatalf("Validate = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrBadWindow) {
				t.Fatalf("error %v is not ErrBadWindow", err)
			}
		})
	}
}

func TestMemoryStore(t *testing.T) {
	s := NewMemory()
	st := s.State("a1")
	if st != s.State("a1") {
		t.Fatal("State is not stable")
	}
	var changed []string
	cancel := s.OnChange(func(id string) { changed = append(changed, id) })
	ctx := context.Background()
	if err := s.SetPaused(ctx, "a1", true); err != nil || !st.Paused() {
		t.Fatalf("pause: err %v paused %v", err, st.Paused())
	}
	w := conf.Window{Start: t0, End: t1}
	if err := s.SetWindow(ctx, "a1", &w); err != nil {
		t.Fatal(err)
	}
	if got, ok := st.Window(); !ok || !got.Start.Equal(t0) || !got.End.Equal(t1) {
		t.Fatalf("window %v %v", got, ok)
	}
	if err := s.SetWindow(ctx, "a1", &conf.Window{Start: t1, End: t0}); !errors.Is(err, ErrBadWindow) {
		t.Fatalf("bad window: %v", err)
	}
	if got, _ := st.Window(); !got.Start.Equal(t0) {
		t.Fatal("a refused window changed the override")
	}
	list := s.List()
	if len(list) != 1 || list[0].ID != "a1" || !list[0].Paused || list[0].Window == nil {
		t.Fatalf("list %+v", list)
	}
	_ = s.SetPaused(ctx, "a1", false)
	_ = s.SetWindow(ctx, "a1", nil)
	if st.Paused() || st.Windows() != nil || len(s.List()) != 0 {
		t.Fatalf("cleared: paused %v windows %v list %v", st.Paused(), st.Windows(), s.List())
	}
	cancel()
	_ = s.SetWindow(ctx, "a1", &w)
	if len(changed) != 2 || changed[0] != "a1" {
		t.Fatalf("listener saw %v, want two changes before cancel", changed)
	}
}

// Two stores on one Redis stand for two gateway instances: a pause or a
// window set on one reaches the other within a second, and a store
// opened afterwards starts with them.
func TestRedisShared(t *testing.T) {
	rs := redistest.Start(t)
	ctx := context.Background()
	open := func() *Store {
		s := NewRedis(ctx, redistest.Client(t, rs.Addr()), "fg:", time.Second, nil)
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	a, b := open(), open()
	onB := b.State("sale")
	if err := a.SetPaused(ctx, "sale", true); err != nil {
		t.Fatal(err)
	}
	if !a.State("sale").Paused() {
		t.Fatal("the writing instance is not paused at once")
	}
	within(t, func() bool { return onB.Paused() })
	w := conf.Window{Start: t0}
	if err := a.SetWindow(ctx, "sale", &w); err != nil {
		t.Fatal(err)
	}
	within(t, func() bool { got, ok := onB.Window(); return ok && got.Start.Equal(t0) && got.End.IsZero() })

	c := open()
	if st := c.State("sale"); !st.Paused() || st.Windows() == nil {
		t.Fatalf("a new instance starts without the overrides: paused %v windows %v", st.Paused(), st.Windows())
	}
	if err := b.SetPaused(ctx, "sale", false); err != nil {
		t.Fatal(err)
	}
	if err := b.SetWindow(ctx, "sale", nil); err != nil {
		t.Fatal(err)
	}
	within(t, func() bool { st := a.State("sale"); return !st.Paused() && st.Windows() == nil })
}

// A Redis that stops answering keeps the last known overrides: a paused
// sale does not resume because Redis went away.
func TestRedisDownKeepsOverrides(t *testing.T) {
	rs := redistest.Start(t)
	ctx := context.Background()
	s := NewRedis(ctx, redistest.Client(t, rs.Addr()), "fg:", 200*time.Millisecond, nil)
	defer s.Close()
	if err := s.SetPaused(ctx, "sale", true); err != nil {
		t.Fatal(err)
	}
	rs.Kill()
	time.Sleep(3 * Poll)
	if !s.State("sale").Paused() {
		t.Fatal("pause lost while Redis is down")
	}
	if err := s.SetPaused(ctx, "sale", false); err == nil {
		t.Fatal("resume succeeded with Redis down: other instances would stay paused")
	}
	if !s.State("sale").Paused() {
		t.Fatal("a failed resume changed the local state")
	}
}

// within waits up to one second (the promise) plus a generous margin for
// a loaded test machine.
func within(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("not shared within the bound")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPauseHeldWhenRedisIsDown: the brake works when the shared store does
// not. A pause Redis refuses stops this instance at once (ErrPausedLocally,
// PausedHereOnly) and is shared once Redis answers again; a resume of a
// pause that was never shared lifts it here without Redis.
func TestPauseHeldWhenRedisIsDown(t *testing.T) {
	rs := redistest.Start(t)
	ctx := context.Background()
	a, b := sharedStores(t, rs), sharedStores(t, rs)
	onA, onB := a.State("sale"), b.State("sale")
	rs.Kill()
	if err := a.SetPaused(ctx, "sale", true); !errors.Is(err, ErrPausedLocally) {
		t.Fatalf("pause with Redis down: %v, want ErrPausedLocally", err)
	}
	if !onA.Paused() || !onA.PausedHereOnly() {
		t.Fatalf("paused %v, here only %v: the pause must hold on this instance at once", onA.Paused(), onA.PausedHereOnly())
	}
	if l := a.List(); len(l) != 1 || !l[0].Paused || !l[0].HereOnly {
		t.Fatalf("list %+v: want the pause, marked here only", l)
	}
	if err := a.SetPaused(ctx, "sale", false); !errors.Is(err, ErrResumedLocally) || onA.Paused() {
		t.Fatalf("resume of a pause held here: %v, paused %v; want it lifted here, saying Redis did not answer", err, onA.Paused())
	}
	time.Sleep(3 * Poll)
	if onA.Paused() {
		t.Fatal("a lifted local pause came back")
	}
	if err := a.SetPaused(ctx, "sale", true); !errors.Is(err, ErrPausedLocally) {
		t.Fatalf("second pause: %v", err)
	}
	rs.Restart(t)
	within(t, func() bool { return onB.Paused() && !onA.PausedHereOnly() })
	if !onA.Paused() {
		t.Fatal("the shared pause is not in force on the instance that made it")
	}
}

// fakeShared is the shared hash of fakeBackends: per id, paused and the
// count of decisions.
type fakeShared struct {
	mu      sync.Mutex
	paused  map[string]bool
	decided map[string]int64
}

// fakeBackend is one instance's path to fakeShared, which can be cut.
type fakeBackend struct {
	sh   *fakeShared
	down atomic.Bool
}

var errCut = errors.New("cut")

func (f *fakeBackend) setPaused(_ context.Context, id string, paused bool) (int64, error) {
	if f.down.Load() {
		return 0, errCut
	}
	f.sh.mu.Lock()
	defer f.sh.mu.Unlock()
	f.sh.paused[id] = paused
	f.sh.decided[id]++
	return f.sh.decided[id], nil
}

func (f *fakeBackend) sharePaused(_ context.Context, id string, base int64) (bool, int64, error) {
	if f.down.Load() {
		return false, 0, errCut
	}
	f.sh.mu.Lock()
	defer f.sh.mu.Unlock()
	if f.sh.paused[id] {
		return true, f.sh.decided[id], nil
	}
	if base >= 0 && f.sh.decided[id] > base {
		return false, f.sh.decided[id], nil
	}
	f.sh.paused[id] = true
	f.sh.decided[id]++
	return true, f.sh.decided[id], nil
}

func (f *fakeBackend) setWindow(context.Context, string, *conf.Window) (int64, error) { return 0, nil }
func (f *fakeBackend) shareWindow(context.Context, string, *conf.Window, int64) (bool, int64, error) {
	return true, 0, nil
}
func (f *fakeBackend) close() {}

// poll is one read of the shared hash by s, as the Redis poll does.
func (f *fakeBackend) poll(s *Store) {
	gen := s.gen.Load()
	f.sh.mu.Lock()
	snap := map[string]Entry{}
	for id, at := range f.sh.decided {
		snap[id] = Entry{ID: id, Paused: f.sh.paused[id], decided: at}
	}
	f.sh.mu.Unlock()
	_ = s.apply(gen, snap)
	s.shareLocal(context.Background())
}

// TestLocalPauseNeverUndoesALaterResume: a pause held on instance A while
// its path to Redis is cut, then a pause and a resume made on B: when A
// reaches Redis again the later decision (B's resume) stands, whether A
// read B's decisions meanwhile or not; A's own pause is dropped, never
// shared over the resume. Decisions are counted by the shared store, so
// no clock is compared. And a pause held without any decision since is
// shared.
func TestLocalPauseNeverUndoesALaterResume(t *testing.T) {
	for _, readsMeanwhile := range []bool{true, false} {
		t.Run(map[bool]string{true: "A reads meanwhile", false: "A cut off entirely"}[readsMeanwhile], func(t *testing.T) {
			sh := &fakeShared{paused: map[string]bool{}, decided: map[string]int64{}}
			open := func() (*Store, *fakeBackend) {
				be := &fakeBackend{sh: sh}
				s := NewMemory()
				s.be = be
				return s, be
			}
			a, beA := open()
			b, beB := open()
			ctx := context.Background()
			beA.poll(a) // A has read the shared state once
			beB.poll(b)
			beA.down.Store(true)
			if err := a.SetPaused(ctx, "x", true); !errors.Is(err, ErrPausedLocally) {
				t.Fatalf("pause on A: %v", err)
			}
			if err := b.SetPaused(ctx, "x", true); err != nil {
				t.Fatal(err)
			}
			if readsMeanwhile {
				beA.poll(a) // its shareLocal fails: still cut
			}
			if err := b.SetPaused(ctx, "x", false); err != nil {
				t.Fatal(err)
			}
			if readsMeanwhile {
				beA.poll(a)
			}
			beA.down.Store(false)
			beA.poll(a)
			beB.poll(b)
			if a.State("x").Paused() || b.State("x").Paused() {
				t.Fatalf("after A reached Redis again: A paused %v, B paused %v, shared %v: B's later resume was undone",
					a.State("x").Paused(), b.State("x").Paused(), sh.paused)
			}
			// No decision since: A's held pause is shared with B.
			beA.down.Store(true)
			if err := a.SetPaused(ctx, "y", true); !errors.Is(err, ErrPausedLocally) || !a.State("y").PausedHereOnly() {
				t.Fatalf("pause y on A: %v", err)
			}
			beA.down.Store(false)
			beA.poll(a)
			beB.poll(b)
			if !b.State("y").Paused() || a.State("y").PausedHereOnly() {
				t.Fatal("a held pause with no decision since was not shared")
			}
		})
	}
}

// TestSharePausedOnRedis: the scripts behind a held pause, on a real
// Redis: sharing a pause held since an older decision count is refused
// and changes nothing; one held since the current count is written.
func TestSharePausedOnRedis(t *testing.T) {
	rs := redistest.Start(t)
	ctx := context.Background()
	s := NewRedis(ctx, redistest.Client(t, rs.Addr()), "fg:", time.Second, nil)
	t.Cleanup(func() { _ = s.Close() })
	rb := s.be.(*redisBackend)
	if _, err := rb.setPaused(ctx, "x", false); err != nil { // decision 1
		t.Fatal(err)
	}
	if ok, _, err := rb.sharePaused(ctx, "x", 0); ok || err != nil {
		t.Fatalf("share of a pause held since decision 0 over decision 1: %v %v, want refused", ok, err)
	}
	if snap, err := rb.read(ctx); err != nil || snap["x"].Paused || snap["x"].decided != 1 {
		t.Fatalf("after the refused share: %+v %v", snap["x"], err)
	}
	if ok, _, err := rb.sharePaused(ctx, "x", 1); !ok || err != nil {
		t.Fatalf("share of a pause held since the current decision: %v %v", ok, err)
	}
	if snap, err := rb.read(ctx); err != nil || !snap["x"].Paused || snap["x"].decided != 2 {
		t.Fatalf("after the share: %+v %v", snap["x"], err)
	}
}

// TestPauseSurvivesRedisLosingIt: a shared pause that Redis loses (here
// the hash deleted, as a restart without persistence or a failover to a
// lagging replica would lose it) is not lifted on any instance: each
// keeps it and shares it again. A resume made afterwards, a decision
// Redis does record, still lifts it everywhere.
func TestPauseSurvivesRedisLosingIt(t *testing.T) {
	rs := redistest.Start(t)
	ctx := context.Background()
	rc := redistest.Client(t, rs.Addr())
	a, b := sharedStores(t, rs), sharedStores(t, rs)
	if err := a.SetPaused(ctx, "sale", true); err != nil {
		t.Fatal(err)
	}
	within(t, func() bool { return b.State("sale").Paused() })
	time.Sleep(2 * Poll) // both have read the decision count
	if err := rc.Do(ctx, rc.B().Del().Key("fg:overrides").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	shared := func() bool {
		v, err := rc.Do(ctx, rc.B().Hget().Key("fg:overrides").Field("paused:sale").Build()).ToString()
		return err == nil && v == "1"
	}
	for end := time.Now().Add(4 * Poll); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if !a.State("sale").Paused() || !b.State("sale").Paused() {
			t.Fatalf("a pause Redis lost was lifted: a paused %v, b paused %v", a.State("sale").Paused(), b.State("sale").Paused())
		}
	}
	within(t, shared)
	within(t, func() bool { return !a.State("sale").PausedHereOnly() && !b.State("sale").PausedHereOnly() })
	if err := b.SetPaused(ctx, "sale", false); err != nil {
		t.Fatal(err)
	}
	within(t, func() bool { return !a.State("sale").Paused() && !b.State("sale").Paused() })
}

// TestHeldPauseSurvivesRedisLosingDecisions is the same loss for a pause
// held on one instance while Redis was away (the reviewer's case: two
// decisions recorded, a pause held at count 2, Redis back empty at count
// 0): the lower count is no decision since, so the held pause is shared.
func TestHeldPauseSurvivesRedisLosingDecisions(t *testing.T) {
	sh := &fakeShared{paused: map[string]bool{}, decided: map[string]int64{}}
	a, b := NewMemory(), NewMemory()
	beA, beB := &fakeBackend{sh: sh}, &fakeBackend{sh: sh}
	a.be, b.be = beA, beB
	ctx := context.Background()
	if err := b.SetPaused(ctx, "x", true); err != nil {
		t.Fatal(err)
	}
	if err := b.SetPaused(ctx, "x", false); err != nil {
		t.Fatal(err)
	}
	beA.poll(a) // A has read count 2
	beA.down.Store(true)
	if err := a.SetPaused(ctx, "x", true); !errors.Is(err, ErrPausedLocally) {
		t.Fatalf("pause on A: %v", err)
	}
	sh.mu.Lock()
	sh.paused, sh.decided = map[string]bool{}, map[string]int64{} // Redis back, empty
	sh.mu.Unlock()
	beA.down.Store(false)
	beA.poll(a)
	beB.poll(b)
	if !a.State("x").Paused() || !b.State("x").Paused() || a.State("x").PausedHereOnly() {
		t.Fatalf("after Redis lost its decisions: A paused %v (here only %v), B paused %v: want the held pause shared",
			a.State("x").Paused(), a.State("x").PausedHereOnly(), b.State("x").Paused())
	}
}

// TestWindowSurvivesRedisLosingIt: a window override (here a sale an
// operator ended early) that Redis loses stays in force on every
// instance and is written back; a window cleared by an operator
// afterwards is a decision Redis records, and clears it everywhere.
func TestWindowSurvivesRedisLosingIt(t *testing.T) {
	rs := redistest.Start(t)
	ctx := context.Background()
	rc := redistest.Client(t, rs.Addr())
	a, b := sharedStores(t, rs), sharedStores(t, rs)
	ended := conf.Window{End: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	if err := a.SetWindow(ctx, "sale", &ended); err != nil {
		t.Fatal(err)
	}
	has := func(s *Store) bool { w, ok := s.State("sale").Window(); return ok && w.End.Equal(ended.End) }
	within(t, func() bool { return has(b) })
	time.Sleep(2 * Poll) // both have read the window decision count
	if err := rc.Do(ctx, rc.B().Del().Key("fg:overrides").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(4 * Poll); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if !has(a) || !has(b) {
			t.Fatalf("a window override Redis lost was undone: a %v, b %v", has(a), has(b))
		}
	}
	within(t, func() bool {
		v, err := rc.Do(ctx, rc.B().Hget().Key("fg:overrides").Field("window:sale").Build()).ToString()
		return err == nil && strings.Contains(v, "2026-01-01")
	})
	if err := b.SetWindow(ctx, "sale", nil); err != nil {
		t.Fatal(err)
	}
	within(t, func() bool { return !has(a) && !has(b) })
	time.Sleep(3 * Poll)
	if has(a) || has(b) {
		t.Fatal("a cleared window came back")
	}
}

// TestKnownAfterFirstRead: a shared store that could not read Redis at
// start does not know its overrides (a pause may be in force unread), and
// says so until its first read; a local store always knows.
func TestKnownAfterFirstRead(t *testing.T) {
	if !NewMemory().State("x").Known() {
		t.Fatal("a local store does not know its own overrides")
	}
	rs := redistest.Start(t)
	c := redistest.Client(t, rs.Addr())
	rs.Kill()
	s := NewRedis(context.Background(), c, "fg:", 200*time.Millisecond, nil)
	t.Cleanup(func() { _ = s.Close() })
	st := s.State("sale")
	if st.Known() {
		t.Fatal("overrides known without a read of Redis")
	}
	rs.Restart(t)
	within(t, st.Known)
}

// TestOwnPauseLostBeforePoll: Redis loses the very write of a pause
// (acknowledged, then a failover to a replica without it) before this
// instance read it back: the instance knows Redis had counted it, so the
// lower count it then reads is a loss, and the brake stays on.
func TestOwnPauseLostBeforePoll(t *testing.T) {
	rs := redistest.Start(t)
	ctx := context.Background()
	rc := redistest.Client(t, rs.Addr())
	s := NewRedis(ctx, redistest.Client(t, rs.Addr()), "fg:", 200*time.Millisecond, nil)
	t.Cleanup(func() { _ = s.Close() })
	if err := s.SetPaused(ctx, "sale", true); err != nil { // decision 1
		t.Fatal(err)
	}
	if err := s.SetPaused(ctx, "sale", false); err != nil { // decision 2
		t.Fatal(err)
	}
	time.Sleep(2 * Poll) // read back: count 2

	// Decision 3, then lost.
	if err := s.SetPaused(ctx, "sale", true); err != nil {
		t.Fatal(err)
	}
	if err := rc.Do(ctx, rc.B().Hdel().Key("fg:overrides").Field("paused:sale").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	if err := rc.Do(ctx, rc.B().Hset().Key("fg:overrides").FieldValue().FieldValue("decided:sale", "2").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(4 * Poll); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if !s.State("sale").Paused() {
			t.Fatal("the pause whose write Redis lost was lifted")
		}
	}
	within(t, func() bool {
		v, err := rc.Do(ctx, rc.B().Hget().Key("fg:overrides").Field("paused:sale").Build()).ToString()
		return err == nil && v == "1"
	})
}

// sharedStores is one instance's overrides store on rs, closed with t.
func sharedStores(t *testing.T, rs *redistest.Server) *Store {
	t.Helper()
	s := NewRedis(context.Background(), redistest.Client(t, rs.Addr()), "fg:", 200*time.Millisecond, nil)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// TestOlderWindowAfterLostDecision: Redis keeps the window before the
// last decision (a failover that lost only that one, so its count is
// lower): the instance keeps what it last knew, here an early end that
// replaced an extension, and writes it back; the sale does not reopen.
func TestOlderWindowAfterLostDecision(t *testing.T) {
	rs := redistest.Start(t)
	ctx := context.Background()
	rc := redistest.Client(t, rs.Addr())
	s := sharedStores(t, rs)
	extended := conf.Window{End: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	ended := conf.Window{End: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)}
	if err := s.SetWindow(ctx, "sale", &extended); err != nil { // decision 1
		t.Fatal(err)
	}
	older, err := rc.Do(ctx, rc.B().Hget().Key("fg:overrides").Field("window:sale").Build()).ToString()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetWindow(ctx, "sale", &ended); err != nil { // decision 2, then lost
		t.Fatal(err)
	}
	if err := rc.Do(ctx, rc.B().Hset().Key("fg:overrides").FieldValue().FieldValue("window:sale", older).FieldValue("wdecided:sale", "1").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	isEnded := func() bool { w, ok := s.State("sale").Window(); return ok && w.End.Equal(ended.End) }
	for end := time.Now().Add(4 * Poll); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if !isEnded() {
			t.Fatal("the older window Redis kept replaced the early end it lost")
		}
	}
	within(t, func() bool {
		v, err := rc.Do(ctx, rc.B().Hget().Key("fg:overrides").Field("window:sale").Build()).ToString()
		return err == nil && strings.Contains(v, "2020-01-01")
	})
}

// TestFrozenRedisWriteNeverLandsLate: a pause, resume or window change
// refused because Redis was frozen (SIGSTOP) is not applied when Redis
// resumes: the admin API's 503 means nothing changed.
func TestFrozenRedisWriteNeverLandsLate(t *testing.T) {
	rs := redistest.Start(t)
	ctx := context.Background()
	s := NewRedis(ctx, redistest.Client(t, rs.Addr()), "fg:", 200*time.Millisecond, nil)
	t.Cleanup(func() { _ = s.Close() })
	rb := s.be.(*redisBackend)
	start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	rs.Pause()
	errWin := s.SetWindow(ctx, "sale", &conf.Window{Start: start})
	_, errResume := rb.setPaused(ctx, "sale", false)
	rs.Resume()
	if errWin == nil || errResume == nil {
		t.Fatalf("writes to a frozen Redis: window %v, resume %v; want errors", errWin, errResume)
	}
	snap, err := rb.read(ctx) // after whatever the frozen server had queued
	if err != nil {
		t.Fatal(err)
	}
	if e := snap["sale"]; e.Window != nil || e.wdecided != 0 || e.decided != 0 {
		t.Fatalf("after the resume Redis holds %+v: a refused write landed", e)
	}
	if err := s.SetWindow(ctx, "sale", &conf.Window{Start: start}); err != nil {
		t.Fatalf("the same window once Redis is back: %v", err)
	}
}
