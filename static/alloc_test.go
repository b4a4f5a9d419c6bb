//go:build !race

package static

import (
	"strings"
	"testing"
)

// TestServeHotAllocs proves the hot path allocates nothing: a hot page,
// 200 or 304, gzip or not, GET or HEAD, on a real fasthttp.RequestCtx.
func TestServeHotAllocs(t *testing.T) {
	s := loadTestSite(t)
	// $etag and $etaggz stand for the served page's ETags.
	tests := []struct {
		name   string
		method string
		hdr    []string
		status int
	}{
		{"200", "GET", nil, 200},
		{"200 gzip", "GET", []string{"Accept-Encoding", "gzip, deflate, br"}, 200},
		{"200 gzip q=0", "GET", []string{"Accept-Encoding", "br;q=1, gzip;q=0"}, 200},
		{"304 etag", "GET", []string{"If-None-Match", "$etag"}, 304},
		{"304 etag gzip", "GET", []string{"Accept-Encoding", "gzip", "If-None-Match", `"x", W/$etaggz`}, 304},
		{"304 ims echo", "GET", []string{"If-Modified-Since", string(s.lastModified)}, 304},
		{"304 ims parsed", "GET", []string{"If-Modified-Since", "Fri, 31 Dec 2999 23:59:59 GMT"}, 304},
		{"200 etag mismatch", "GET", []string{"If-None-Match", `"nope"`}, 200},
		{"HEAD", "HEAD", []string{"Accept-Encoding", "gzip"}, 200},
	}
	for _, key := range []string{"phone-x", "mug"} {
		for _, tc := range tests {
			t.Run(key+"/"+tc.name, func(t *testing.T) {
				p := s.pages[key]
				hdr := make([]string, len(tc.hdr))
				for i, v := range tc.hdr {
					v = strings.ReplaceAll(v, "$etaggz", string(p.etagGz))
					hdr[i] = strings.ReplaceAll(v, "$etag", string(p.etag))
				}
				ctx := newCtx(tc.method, hdr...)
				n := testing.AllocsPerRun(200, func() {
					ctx.Response.Reset()
					if !s.Serve(ctx, key) {
						t.Fatal("not served")
					}
				})
				if n != 0 {
					t.Errorf("%v allocs per request, want 0", n)
				}
				if got := ctx.Response.StatusCode(); got != tc.status {
					t.Errorf("status %d, want %d", got, tc.status)
				}
			})
		}
	}
}

// TestServeColdAllocs pins the cold path's cost, which is bigcache's own:
// Get copies the page (allegro/bigcache#404) and the stored key, to check
// for a hash collision. A cold 304 reads nothing and is free.
func TestServeColdAllocs(t *testing.T) {
	s := loadTestSite(t)
	tests := []struct {
		name string
		hdr  []string
		want float64
	}{
		{"200", nil, 2},
		{"200 gzip", []string{"Accept-Encoding", "gzip"}, 2},
		{"304", []string{"If-None-Match", string(s.pages["tee_2"].etag)}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := newCtx("GET", tc.hdr...)
			n := testing.AllocsPerRun(200, func() {
				ctx.Response.Reset()
				s.Serve(ctx, "tee_2")
			})
			if n != tc.want {
				t.Errorf("%v allocs per request, want %v", n, tc.want)
			}
		})
	}
}

func TestNegotiateAllocs(t *testing.T) {
	ae := []byte("br;q=1.0, gzip;q=0.8, *;q=0.1")
	inm := []byte(`"a", W/"b", "a,b", "c"`)
	etag := []byte(`"c"`)
	n := testing.AllocsPerRun(100, func() {
		if !acceptsGzip(ae) || !etagMatch(inm, etag) {
			t.Fatal("no match")
		}
	})
	if n != 0 {
		t.Errorf("%v allocs, want 0", n)
	}
}
