package userset

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/flashgate/flashgate/internal/redistest"
)

func mirror(t *testing.T, c rueidis.Client, key string, provisional bool, static ...string) *Mirror[Set] {
	t.Helper()
	m := New(Options[Set]{Client: c, Key: key, Static: static, Build: NewSet, Provisional: provisional, Refresh: 50 * time.Millisecond})
	t.Cleanup(func() { m.Close() })
	return m
}

func has(m *Mirror[Set], user string) bool {
	s := m.Load()
	return s != nil && s.Has([]byte(user))
}

func TestFileOnly(t *testing.T) {
	m := New(Options[Set]{Static: []string{"alice"}, Build: NewSet})
	m.Start() // nothing to run
	if !m.Loaded() || !has(m, "alice") || m.HasRedis() {
		t.Fatal("a file-only mirror is not ready at once")
	}
	if _, err := m.Add(context.Background(), []string{"bob"}); !errors.Is(err, ErrNoRedis) {
		t.Fatalf("Add: %v", err)
	}
	if err := m.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	m.Close()
	m.Close()
}

func TestLoadWriteRefresh(t *testing.T) {
	s := redistest.Start(t)
	c := redistest.Client(t, s.Addr())
	ctx := context.Background()
	strict := mirror(t, c, "k", false, "filed")
	lenient := mirror(t, c, "k", true, "filed")
	if strict.Load() != nil || !has(lenient, "filed") || lenient.Loaded() {
		t.Fatal("before the first load: strict must be nil, provisional must hold the file")
	}
	// A write before the first load reaches a provisional copy only.
	if n, err := strict.Add(ctx, []string{"early"}); err != nil || n != 1 {
		t.Fatalf("Add = %d, %v", n, err)
	}
	if strict.Load() != nil {
		t.Fatal("a strict mirror published a partial copy")
	}
	lenient.Add(ctx, []string{"early"})
	if !has(lenient, "early") || !has(lenient, "filed") {
		t.Fatal("provisional copy misses a local write")
	}
	for _, m := range []*Mirror[Set]{strict, lenient} {
		if err := m.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		if !m.Loaded() || !has(m, "early") || !has(m, "filed") {
			t.Fatal("first load incomplete")
		}
	}
	if n, err := strict.Remove(ctx, []string{"early", "filed"}); err != nil || n != 1 {
		t.Fatalf("Remove = %d, %v", n, err)
	}
	if has(strict, "early") || !has(strict, "filed") {
		t.Fatal("Remove must drop the member locally and keep file entries")
	}
	if got := strict.Members(); len(got) != 0 {
		t.Fatalf("Members = %v", got)
	}
	// The background loop brings another writer's change.
	lenient.Start()
	c.Do(ctx, c.B().Sadd().Key("k").Member("late").Build())
	deadline := time.Now().Add(3 * time.Second)
	for !has(lenient, "late") {
		if time.Now().After(deadline) {
			t.Fatal("the loop did not pick up a member added elsewhere")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if has(lenient, "early") {
		t.Fatal("the loop kept a member removed elsewhere")
	}
}

// A set beyond smallSet is read with SSCAN; while its size is unchanged
// it is reloaded only every fullEvery refreshes.
func TestLargeSet(t *testing.T) {
	s := redistest.Start(t)
	c := redistest.Client(t, s.Addr())
	ctx := context.Background()
	users := make([]string, 25000)
	for i := range users {
		users[i] = "u" + strconv.Itoa(i)
	}
	m := mirror(t, c, "big", false)
	if n, err := m.Add(ctx, users); err != nil || n != int64(len(users)) {
		t.Fatalf("Add = %d, %v", n, err)
	}
	if err := m.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if got := m.Load().Len(); got != len(users) {
		t.Fatalf("loaded %d of %d", got, len(users))
	}
	if n, _ := m.Count(ctx); n != int64(len(users)) {
		t.Fatalf("Count = %d", n)
	}
	// Swap one member behind the mirror's back: same size.
	c.Do(ctx, c.B().Srem().Key("big").Member("u0").Build())
	c.Do(ctx, c.B().Sadd().Key("big").Member("swapped").Build())
	for i := 1; i < fullEvery; i++ {
		m.Refresh(ctx)
		if has(m, "swapped") {
			t.Fatalf("refresh %d reloaded an unchanged-size large set", i)
		}
	}
	m.Refresh(ctx)
	if !has(m, "swapped") || has(m, "u0") {
		t.Fatalf("refresh %d did not reload the set", fullEvery)
	}
	// A size change reloads at once.
	c.Do(ctx, c.B().Sadd().Key("big").Member("grown").Build())
	m.Refresh(ctx)
	if !has(m, "grown") {
		t.Fatal("a size change was not reloaded")
	}
	members := m.Members()
	slices.Sort(members)
	if len(members) != len(users)+1 {
		t.Fatalf("Members has %d", len(members))
	}
}

// A reload that raced a local write is dropped rather than undoing it:
// with reloads running back to back, every write is in the copy the
// moment Add returns, and stays there.
func TestReloadRacingWrite(t *testing.T) {
	s := redistest.Start(t)
	c := redistest.Client(t, s.Addr())
	ctx := context.Background()
	m := mirror(t, c, "k", false)
	m.Refresh(ctx)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
				m.Refresh(ctx)
			}
		}
	}()
	for i := range 200 {
		u := "u" + strconv.Itoa(i)
		if _, err := m.Add(ctx, []string{u}); err != nil {
			t.Fatal(err)
		}
		for j := 0; j <= i; j += 17 {
			if !has(m, "u"+strconv.Itoa(j)) {
				close(stop)
				t.Fatalf("after adding %s, u%d is missing from the copy", u, j)
			}
		}
	}
	close(stop)
	<-done
	if m.Load().Len() != 200 {
		t.Fatalf("copy holds %d of 200", m.Load().Len())
	}
}

func TestRedisDown(t *testing.T) {
	s := redistest.Start(t)
	c := redistest.Client(t, s.Addr())
	ctx := context.Background()
	m := mirror(t, c, "k", false)
	m.Add(ctx, []string{"alice"})
	m.Refresh(ctx)
	m.Start()
	s.Kill()
	start := time.Now()
	if err := m.Refresh(ctx); err == nil {
		t.Fatal("Refresh with Redis down succeeded")
	}
	if took := time.Since(start); took > 3*defaultTimeout {
		t.Fatalf("Refresh took %s", took)
	}
	time.Sleep(150 * time.Millisecond) // a few failing loop iterations
	if !has(m, "alice") {
		t.Fatal("the last copy was dropped")
	}
	done := make(chan struct{})
	go func() { m.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * defaultTimeout):
		t.Fatal("Close hangs while Redis is down")
	}
}

// TestFirstLoadRetriedSoon: a mirror whose set never loaded (Redis down
// when the gateway started) tries again every firstLoadRetry, not once a
// refresh, so a ban kept in Redis applies soon after Redis answers.
func TestFirstLoadRetriedSoon(t *testing.T) {
	s := redistest.Start(t)
	c := redistest.Client(t, s.Addr())
	ctx := context.Background()
	if err := c.Do(ctx, c.B().Sadd().Key("bans").Member("mallory").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	s.Stop() // without persistence the set is gone: written again below
	m := New(Options[Set]{Client: c, Key: "bans", Static: []string{"from-file"}, Build: NewSet, Provisional: true, Refresh: time.Hour})
	t.Cleanup(func() { m.Close() })
	_ = m.Refresh(ctx) // the build's first load: fails
	m.Start()
	s.Restart(t)
	if err := c.Do(ctx, c.B().Sadd().Key("bans").Member("mallory").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second) // firstLoadRetry plus slack for -race on 2 cores
	for !has(m, "mallory") {
		if time.Now().After(deadline) {
			t.Fatalf("a ban in Redis not loaded 10 s after Redis came back (refresh 1h): loaded %v", m.Loaded())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !has(m, "from-file") {
		t.Error("the file's entries were lost with the first load")
	}
}

// TestFrozenRedisWriteNeverLandsLate: an add or remove refused because
// Redis was frozen (SIGSTOP) is not applied when Redis resumes.
func TestFrozenRedisWriteNeverLandsLate(t *testing.T) {
	s := redistest.Start(t)
	c := redistest.Client(t, s.Addr())
	ctx := context.Background()
	if err := c.Do(ctx, c.B().Sadd().Key("k").Member("old").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	m := New(Options[Set]{Client: c, Key: "k", Build: NewSet, Refresh: time.Hour, Timeout: 200 * time.Millisecond})
	t.Cleanup(func() { m.Close() })
	s.Pause()
	_, errAdd := m.Add(ctx, []string{"new"})
	_, errRemove := m.Remove(ctx, []string{"old"})
	s.Resume()
	if errAdd == nil || errRemove == nil {
		t.Fatalf("writes to a frozen Redis: add %v, remove %v; want errors", errAdd, errRemove)
	}
	got, err := c.Do(ctx, c.B().Smembers().Key("k").Build()).AsStrSlice()
	if err != nil || !slices.Equal(got, []string{"old"}) {
		t.Fatalf("after the resume the set is %v (%v), want [old]: a refused write landed", got, err)
	}
}
