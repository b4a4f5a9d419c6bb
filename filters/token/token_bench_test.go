package token

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/flashgate/flashgate/internal/filtertest"
	"github.com/flashgate/flashgate/internal/redistest"
)

func benchHandle(b *testing.B, f *filter, header string, at time.Duration, reason string) {
	env := testEnv()
	r := filtertest.Request(env.Activities[0], "alice", t0.Add(at))
	if header != "" {
		r.Ctx.Request.Header.Set("X-Order-Token", header)
	}
	b.ReportAllocs()
	for b.Loop() {
		v, err := f.Handle(r)
		if err != nil || (v.Page == nil) != (reason == "") {
			b.Fatalf("verdict %+v err %v", v, err)
		}
	}
}

func BenchmarkPass(b *testing.B) {
	benchHandle(b, buildFilter(b, testEnv(), map[string]any{}), mint(b, "k2", secretB, t0, "alice", "act1"), 2*time.Second, "")
}

func BenchmarkRejectMissing(b *testing.B) {
	benchHandle(b, buildFilter(b, testEnv(), map[string]any{}), "", 0, "token_missing")
}

func BenchmarkRejectForged(b *testing.B) {
	benchHandle(b, buildFilter(b, testEnv(), map[string]any{}), mint(b, "k2", secretA, t0, "alice", "act1"), 2*time.Second, "token_forged")
}

func BenchmarkRejectTooYoung(b *testing.B) {
	benchHandle(b, buildFilter(b, testEnv(), map[string]any{}), mint(b, "k2", secretB, t0, "alice", "act1"), 0, "token_too_young")
}

func BenchmarkPassParallel(b *testing.B) {
	env := testEnv()
	f := buildFilter(b, env, map[string]any{})
	tok := mint(b, "k2", secretB, t0, "alice", "act1")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r := filtertest.Request(env.Activities[0], "alice", t0.Add(2*time.Second))
		r.Ctx.Request.Header.Set("X-Order-Token", tok)
		for pb.Next() {
			if v, err := f.Handle(r); err != nil || v.Page != nil {
				b.Fatalf("verdict %+v err %v", v, err)
			}
		}
	})
}

// BenchmarkIssue measures the endpoint (not on the purchase path).
func BenchmarkIssue(b *testing.B) {
	env := testEnv()
	e := buildEndpoint(b, env, map[string]any{})
	r := filtertest.Request(env.Activities[0], "alice", t0)
	b.ReportAllocs()
	for b.Loop() {
		r.Ctx.Response.Reset()
		e.Respond(r)
	}
}

// BenchmarkPassSingleUse includes one SET NX round trip to a local
// redis-server and minting a fresh token per iteration (see BenchmarkIssue
// for the minting share). This path allocates: rueidis builds a command
// and the key string, and context.WithTimeout bounds the call.
func BenchmarkPassSingleUse(b *testing.B) {
	env := testEnv()
	env.Redis = redistest.Client(b, redistest.Start(b).Addr())
	f := buildFilter(b, env, map[string]any{"single_use": true})
	ring := f.ring
	var bin [maxBinary]byte
	var sum [32]byte
	var nonce [nonceLen]byte
	r := filtertest.Request(env.Activities[0], "alice", t0.Add(2*time.Second))
	b.ReportAllocs()
	i := uint64(0)
	tok := make([]byte, 0, maxText)
	for b.Loop() {
		i++
		binary.BigEndian.PutUint64(nonce[:], i)
		tok, _ = appendToken(tok[:0], bin[:], ring.Primary(), t0.UnixMilli(), nonce[:], r.User, r.Activity.IDBytes, &sum)
		r.Ctx.Request.Header.SetBytesV("X-Order-Token", tok)
		if v, err := f.Handle(r); err != nil || v.Page != nil {
			b.Fatalf("verdict %+v err %v", v, err)
		}
	}
}
