package identity

import (
	"testing"

	"github.com/flashgate/flashgate/gateway"
	"github.com/flashgate/flashgate/internal/filtertest"
)

func benchFilter(b *testing.B, f *filter, headers []string, wantReason string) {
	r := filtertest.Request(nil, "", testNow, headers...)
	check := func(v gateway.Verdict, err error) {
		if err != nil || (v.Page == nil) != (wantReason == "") {
			b.Fatalf("verdict %+v err %v", v, err)
		}
	}
	check(f.Handle(r))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r.User = r.User[:0]
		check(f.Handle(r))
	}
}

func BenchmarkPassHeader(b *testing.B) {
	benchFilter(b, filtertest.Filter[*filter](b, filtertest.Env(), "identity", map[string]any{"header": "X-User-Id"}), []string{"X-User-Id", "u-42"}, "")
}

func BenchmarkPassAnonymous(b *testing.B) {
	benchFilter(b, filtertest.Filter[*filter](b, filtertest.Env(), "identity", hsSettings(nil)), nil, "")
}

func BenchmarkPassHS256(b *testing.B) {
	benchFilter(b, filtertest.Filter[*filter](b, filtertest.Env(), "identity", hsSettings(nil)), bearer(hs256(b, claims("alice"))), "")
}

func BenchmarkPassHS256Cookie(b *testing.B) {
	benchFilter(b, filtertest.Filter[*filter](b, filtertest.Env(), "identity", hsSettings(map[string]any{"cookie": "session"})), []string{"Cookie", "theme=dark; session=" + hs256(b, claims("alice"))}, "")
}

func BenchmarkPassRS256(b *testing.B) {
	f := filtertest.Filter[*filter](b, filtertest.Env(), "identity", map[string]any{"jwt": map[string]any{"alg": "RS256", "public_key_file": pkixPEM(b, &testRSAKey(b).PublicKey)}})
	benchFilter(b, f, bearer(rs256(b, claims("alice"))), "")
}

func BenchmarkRejectBadSignature(b *testing.B) {
	benchFilter(b, filtertest.Filter[*filter](b, filtertest.Env(), "identity", hsSettings(nil)), bearer(dropTail(hs256(b, claims("alice")), 4)+"AAAA"), "jwt_bad_signature")
}

func BenchmarkRejectMalformed(b *testing.B) {
	benchFilter(b, filtertest.Filter[*filter](b, filtertest.Env(), "identity", hsSettings(nil)), bearer("not-a-jwt"), "jwt_malformed")
}

func BenchmarkRejectUnauthenticated(b *testing.B) {
	benchFilter(b, filtertest.Filter[*filter](b, filtertest.Env(), "identity", map[string]any{"header": "X-User-Id", "require": true}), nil, "unauthenticated")
}

// BenchmarkPassHS256Parallel checks the pools under contention.
func BenchmarkPassHS256Parallel(b *testing.B) {
	f := filtertest.Filter[*filter](b, filtertest.Env(), "identity", hsSettings(nil))
	tok := hs256(b, claims("alice"))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r := filtertest.Request(nil, "", testNow, bearer(tok)...)
		for pb.Next() {
			r.User = r.User[:0]
			if v, err := f.Handle(r); err != nil || v.Page != nil {
				b.Fatalf("verdict %+v err %v", v, err)
			}
		}
	})
}
