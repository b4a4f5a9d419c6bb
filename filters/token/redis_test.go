package token

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/gateway"
	"github.com/flashgate/flashgate/internal/breaker"
	"github.com/flashgate/flashgate/internal/filtertest"
	"github.com/flashgate/flashgate/internal/redistest"
)

// singleUse runs the replay check against a real Redis: standalone or a
// 3-master cluster, where nonce hash tags spread keys over slots.
func singleUse(t *testing.T, client rueidis.Client) {
	env := testEnv()
	env.Redis = client
	env.Config = &conf.Config{Redis: conf.Redis{Prefix: "test:"}}
	f := buildFilter(t, env, map[string]any{"single_use": true, "max_age": "1m"})
	e := buildEndpoint(t, env, map[string]any{"max_age": "1m"})
	at := t0.Add(2 * time.Second)
	try := func(tok, user string) string {
		r := filtertest.Request(env.Activities[0], user, at)
		r.Ctx.Request.Header.Set("X-Order-Token", tok)
		reason, _ := filtertest.Outcome(t, f, r)
		return reason
	}
	for i := range 20 {
		tok := issue(t, e, env, 0, "alice", t0).Token
		if got := try(tok, "bob"); got != "token_wrong_user" {
			t.Fatalf("wrong user: %q", got)
		}
		if got := try(tok, "alice"); got != "" {
			t.Fatalf("token %d first use: %q", i, got)
		}
		if got := try(tok, "alice"); got != "token_replayed" {
			t.Fatalf("token %d second use: %q", i, got)
		}
	}
	// The refused request above (wrong user) did not use a token up, and
	// the key expires with the token.
	tok := issue(t, e, env, 0, "alice", t0).Token
	if got := try(tok, "alice"); got != "" {
		t.Fatalf("fresh token: %q", got)
	}
	var sc scratch
	fl, _ := f.verify([]byte(tok), &sc)
	key := f.replay.key(fl.nonce)
	if !strings.HasPrefix(key, "test:tok:{") || !strings.HasSuffix(key, "}") {
		t.Fatalf("key %q", key)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ttl, err := client.Do(ctx, client.B().Pttl().Key(key).Build()).AsInt64()
	if err != nil || ttl <= 50_000 || ttl > 60_000 {
		t.Fatalf("PTTL %s = %d, %v; want about max_age", key, ttl, err)
	}
	// A later filter refused it with "try again" (the chain calls Undo):
	// the token is given back and passes once more, then is spent again.
	r := filtertest.Request(env.Activities[0], "alice", at)
	r.Ctx.Request.Header.Set("X-Order-Token", tok)
	f.Undo(r)
	deadline := time.Now().Add(5 * time.Second)
	for try(tok, "alice") != "" {
		if time.Now().After(deadline) {
			t.Fatal("the token given back does not pass again within 5 s")
		}
		f.Undo(r)
		time.Sleep(10 * time.Millisecond)
	}
	if got := try(tok, "alice"); got != "token_replayed" {
		t.Fatalf("after its second use: %q, want token_replayed", got)
	}
}

func TestSingleUseStandalone(t *testing.T) {
	singleUse(t, redistest.Client(t, redistest.Start(t).Addr()))
}

func TestSingleUseCluster(t *testing.T) {
	singleUse(t, redistest.Client(t, redistest.StartCluster(t, 3).Addrs()...))
}

// TestSingleUseRedisDown checks that a dead Redis is a fast, counted
// error (the chain's on_error decides), not a hang or a pass.
func TestSingleUseRedisDown(t *testing.T) {
	srv := redistest.Start(t)
	client := redistest.Client(t, srv.Addr())
	env := testEnv()
	env.Redis = client
	f := buildFilter(t, env, map[string]any{"single_use": true, "redis_timeout": "50ms"})
	e := buildEndpoint(t, env, map[string]any{})
	tok := issue(t, e, env, 0, "alice", t0).Token
	srv.Kill()
	r := filtertest.Request(env.Activities[0], "alice", t0.Add(2*time.Second))
	r.Ctx.Request.Header.Set("X-Order-Token", tok)
	start := time.Now()
	_, err := f.Handle(r)
	if !errors.Is(err, gateway.ErrUnavailable) {
		t.Fatalf("got %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("took %s with redis_timeout 50ms", d)
	}
	// A token refused before the Redis step never reaches Redis.
	r = filtertest.Request(env.Activities[0], "bob", t0.Add(2*time.Second))
	r.Ctx.Request.Header.Set("X-Order-Token", tok)
	if reason, _ := filtertest.Outcome(t, f, r); reason != "token_wrong_user" {
		t.Fatalf("got %q", reason)
	}
}

// TestSingleUseRedisBreaker: while the Redis breaker is open, a single_use
// check fails closed at once and makes no Redis call (the server's SET
// count does not move); a closed breaker lets it through and counts the
// answer as a success.
func TestSingleUseRedisBreaker(t *testing.T) {
	srv := redistest.Start(t)
	client := redistest.Client(t, srv.Addr())
	env := testEnv()
	env.Redis = client
	env.RedisBreaker = breaker.New(breaker.Settings{Failures: 1, OpenFor: time.Hour, Now: func() time.Time { return t0 }})
	f := buildFilter(t, env, map[string]any{"single_use": true, "max_age": "1m"})
	e := buildEndpoint(t, env, map[string]any{"max_age": "1m"})
	sets := func() int {
		info, err := client.Do(context.Background(), client.B().Info().Section("commandstats").Build()).ToString()
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(info, "\n") {
			if rest, ok := strings.CutPrefix(strings.TrimSpace(l), "cmdstat_set:calls="); ok {
				n, _ := strconv.Atoi(rest[:strings.IndexByte(rest, ',')])
				return n
			}
		}
		return 0
	}
	use := func() error {
		r := filtertest.Request(env.Activities[0], "alice", t0.Add(2*time.Second))
		r.Ctx.Request.Header.Set("X-Order-Token", issue(t, e, env, 0, "alice", t0).Token)
		_, err := f.Handle(r)
		return err
	}
	if err := use(); err != nil || sets() != 1 {
		t.Fatalf("closed breaker: %v, %d SETs", err, sets())
	}
	tk, _ := env.RedisBreaker.Allow()
	env.RedisBreaker.Done(tk, breaker.Failure)
	for range 10 {
		if err := use(); !errors.Is(err, gateway.ErrUnavailable) {
			t.Fatalf("open breaker: %v, want ErrUnavailable", err)
		}
	}
	if n := sets(); n != 1 {
		t.Fatalf("an open breaker let %d SETs through", n-1)
	}
}
