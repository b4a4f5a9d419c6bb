package static

import (
	"testing"
)

// benchServe serves key in parallel, one RequestCtx per goroutine, as
// fasthttp does with its pooled contexts.
func benchServe(b *testing.B, key string, hdr func(s *Site) []string) {
	s := loadTestSite(b)
	h := hdr(s)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := newCtx("GET", h...)
		for pb.Next() {
			ctx.Response.Reset()
			if !s.Serve(ctx, key) {
				b.Fatal("not served")
			}
		}
	})
}

func BenchmarkServeHot(b *testing.B) {
	benchServe(b, "phone-x", func(*Site) []string { return nil })
}

func BenchmarkServeHotGzip(b *testing.B) {
	benchServe(b, "phone-x", func(*Site) []string {
		return []string{"Accept-Encoding", "gzip, deflate, br, zstd"}
	})
}

func BenchmarkServe304(b *testing.B) {
	benchServe(b, "phone-x", func(s *Site) []string {
		return []string{"Accept-Encoding", "gzip, deflate, br, zstd", "If-None-Match", string(s.pages["phone-x"].etagGz)}
	})
}

// BenchmarkServeCold is the bigcache path: one shard read lock and one
// copy of the page per request (allegro/bigcache#404).
func BenchmarkServeCold(b *testing.B) {
	benchServe(b, "tee_2", func(*Site) []string { return nil })
}

func BenchmarkServeColdGzip(b *testing.B) {
	benchServe(b, "tee_2", func(*Site) []string {
		return []string{"Accept-Encoding", "gzip, deflate, br, zstd"}
	})
}

func BenchmarkAcceptsGzip(b *testing.B) {
	v := []byte("br;q=1.0, deflate;q=0.9, gzip;q=0.8, *;q=0.1")
	b.ReportAllocs()
	for b.Loop() {
		acceptsGzip(v)
	}
}

func BenchmarkETagMatch(b *testing.B) {
	v := []byte(`"0123456789abcdef0123456789abcdef", W/"fedcba9876543210fedcba9876543210-gz"`)
	etag := []byte(`"fedcba9876543210fedcba9876543210-gz"`)
	b.ReportAllocs()
	for b.Loop() {
		etagMatch(v, etag)
	}
}
