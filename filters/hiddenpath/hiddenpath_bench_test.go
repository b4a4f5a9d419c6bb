package hiddenpath

import (
	"github.com/flashgate/flashgate/internal/filtertest"
	"testing"
	"time"
)

func benchHandle(b *testing.B, ringKeys []any, sig string, at time.Time, reason string) {
	env := testEnv()
	f := filtertest.Filter[*filter](b, env, "hidden_path", map[string]any{"keys": ringKeys})
	r := filtertest.Request(env.Activities[0], "alice", at)
	r.Ctx.SetUserValue("sig", sig)
	b.ReportAllocs()
	for b.Loop() {
		v, err := f.Handle(r)
		if err != nil || (v.Page == nil) != (reason == "") {
			b.Fatalf("verdict %+v err %v", v, err)
		}
	}
}

func signed(b *testing.B, id string) string {
	env := testEnv()
	_, sig := pathFor(b, filtertest.Endpoint[*endpoint](b, env, "purchase_path", map[string]any{"keys": keys(id)}), env, 0, "alice", t0)
	return sig
}

func BenchmarkPass(b *testing.B) {
	benchHandle(b, keys("k1"), signed(b, "k1"), t0.Add(time.Minute), "")
}

// BenchmarkPassRotated is the worst pass: the second key matches.
func BenchmarkPassRotated(b *testing.B) {
	benchHandle(b, keys("k2", "k1"), signed(b, "k1"), t0.Add(time.Minute), "")
}

func BenchmarkRejectGuessed(b *testing.B) {
	benchHandle(b, keys("k2", "k1"), "AAAAAAAAAAAAAAAAAAAAAA", t0.Add(time.Minute), "not_found")
}

func BenchmarkRejectEarly(b *testing.B) {
	benchHandle(b, keys("k1"), signed(b, "k1"), t0.Add(-time.Minute), "not_found")
}

func BenchmarkPassParallel(b *testing.B) {
	env := testEnv()
	f := filtertest.Filter[*filter](b, env, "hidden_path", map[string]any{"keys": keys("k1")})
	sig := signed(b, "k1")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r := filtertest.Request(env.Activities[0], "alice", t0.Add(time.Minute))
		r.Ctx.SetUserValue("sig", sig)
		for pb.Next() {
			if v, err := f.Handle(r); err != nil || v.Page != nil {
				b.Fatalf("verdict %+v err %v", v, err)
			}
		}
	})
}

// BenchmarkEndpoint measures handing out a path (not the purchase path).
func BenchmarkEndpoint(b *testing.B) {
	env := testEnv()
	e := filtertest.Endpoint[*endpoint](b, env, "purchase_path", map[string]any{"keys": keys("k1")})
	r := filtertest.Request(env.Activities[0], "alice", t0.Add(time.Minute))
	b.ReportAllocs()
	for b.Loop() {
		r.Ctx.Response.Reset()
		e.Respond(r)
	}
}
