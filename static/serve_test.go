package static

import (
	"bytes"
	"compress/gzip"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"
)

const testCacheControl = "public, max-age=60"

// loadTestSite loads testdata/catalogue.yaml: phone-x is hot (it has an
// activity), mug is hot through Options.Hot, tee_2 is cold.
func loadTestSite(tb testing.TB) *Site {
	tb.Helper()
	s, err := Load(Options{
		CataloguePath: "testdata/catalogue.yaml",
		CacheControl:  testCacheControl,
		CacheMB:       8,
		Hot:           []string{"mug", "not-in-catalogue"},
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func newCtx(method string, hdr ...string) *fasthttp.RequestCtx {
	ctx := new(fasthttp.RequestCtx)
	ctx.Request.Header.SetMethod(method)
	ctx.Request.SetRequestURI("/p")
	for i := 0; i+1 < len(hdr); i += 2 {
		ctx.Request.Header.Set(hdr[i], hdr[i+1])
	}
	return ctx
}

func TestServeConditional(t *testing.T) {
	s := loadTestSite(t)
	lm := string(s.lastModified)
	older := s.modified.Add(-time.Hour).Format(time.RFC1123)
	older = strings.Replace(older, "UTC", "GMT", 1)
	newer := strings.Replace(s.modified.Add(time.Hour).Format(time.RFC1123), "UTC", "GMT", 1)

	tests := []struct {
		name   string
		method string
		hdr    []string // values may use $etag, $etaggz
		status int
		gz     bool
	}{
		{"plain GET", "GET", nil, 200, false},
		{"etag match", "GET", []string{"If-None-Match", "$etag"}, 304, false},
		{"etag mismatch", "GET", []string{"If-None-Match", `"nope"`}, 200, false},
		{"etag in list", "GET", []string{"If-None-Match", `"nope", $etag`}, 304, false},
		{"star", "GET", []string{"If-None-Match", "*"}, 304, false},
		{"weak etag", "GET", []string{"If-None-Match", "W/$etag"}, 304, false},
		{"ims equal", "GET", []string{"If-Modified-Since", lm}, 304, false},
		{"ims newer", "GET", []string{"If-Modified-Since", newer}, 304, false},
		{"ims older", "GET", []string{"If-Modified-Since", older}, 200, false},
		{"ims invalid", "GET", []string{"If-Modified-Since", "yesterday"}, 200, false},
		{"inm mismatch beats ims", "GET", []string{"If-None-Match", `"nope"`, "If-Modified-Since", newer}, 200, false},
		{"HEAD", "HEAD", nil, 200, false},
		{"HEAD gzip", "HEAD", []string{"Accept-Encoding", "gzip"}, 200, true},
		{"HEAD 304", "HEAD", []string{"If-None-Match", "$etag"}, 304, false},
		{"gzip", "GET", []string{"Accept-Encoding", "gzip, deflate, br"}, 200, true},
		{"gzip q=0", "GET", []string{"Accept-Encoding", "gzip;q=0, br"}, 200, false},
		{"identity only", "GET", []string{"Accept-Encoding", "identity"}, 200, false},
		{"any coding", "GET", []string{"Accept-Encoding", "*"}, 200, true},
		{"gzip etag match", "GET", []string{"Accept-Encoding", "gzip", "If-None-Match", "$etaggz"}, 304, true},
		{"identity etag, gzip wanted", "GET", []string{"Accept-Encoding", "gzip", "If-None-Match", "$etag"}, 200, true},
		{"POST ignores conditionals", "POST", []string{"If-None-Match", "$etag"}, 200, false},
	}
	for _, key := range []string{"phone-x", "mug", "tee_2"} {
		p := s.pages[key]
		prod, _ := s.Product(key)
		want, err := s.tpl.renderProduct(prod)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range tests {
			t.Run(key+"/"+tc.name, func(t *testing.T) {
				hdr := make([]string, len(tc.hdr))
				for i, v := range tc.hdr {
					v = strings.ReplaceAll(v, "$etaggz", string(p.etagGz))
					hdr[i] = strings.ReplaceAll(v, "$etag", string(p.etag))
				}
				ctx := newCtx(tc.method, hdr...)
				if !s.Serve(ctx, key) {
					t.Fatal("Serve = false")
				}
				checkResponse(t, s, p, &ctx.Response, tc.method == "HEAD", tc.status, tc.gz, want)
			})
		}
	}
}

func checkResponse(t *testing.T, s *Site, p *page, r *fasthttp.Response, head bool, status int, gz bool, want []byte) {
	t.Helper()
	h := &r.Header
	get := func(k string) string { return string(h.Peek(k)) }
	if r.StatusCode() != status {
		t.Fatalf("status %d, want %d", r.StatusCode(), status)
	}
	etag := string(p.etag)
	if gz {
		etag = string(p.etagGz)
	}
	if got := get("ETag"); got != etag {
		t.Errorf("ETag %q, want %q", got, etag)
	}
	if get("Cache-Control") != testCacheControl || get("Vary") != "Accept-Encoding" {
		t.Errorf("Cache-Control %q, Vary %q", get("Cache-Control"), get("Vary"))
	}
	if status == 304 {
		if len(r.Body()) != 0 || get("Last-Modified") != "" || get("Content-Encoding") != "" {
			t.Errorf("304 with body %d bytes, Last-Modified %q, Content-Encoding %q",
				len(r.Body()), get("Last-Modified"), get("Content-Encoding"))
		}
		return
	}
	if get("Content-Type") != "text/html; charset=utf-8" || get("Last-Modified") != string(s.lastModified) {
		t.Errorf("Content-Type %q, Last-Modified %q", get("Content-Type"), get("Last-Modified"))
	}
	wantCE := ""
	if gz {
		wantCE = "gzip"
	}
	if got := get("Content-Encoding"); got != wantCE {
		t.Errorf("Content-Encoding %q, want %q", got, wantCE)
	}
	if head {
		size := p.size
		if gz {
			size = p.gzSize
		}
		if len(r.Body()) != 0 || !r.SkipBody || h.ContentLength() != size {
			t.Errorf("HEAD: body %d bytes, SkipBody %v, Content-Length %d want %d", len(r.Body()), r.SkipBody, h.ContentLength(), size)
		}
		return
	}
	body := r.Body()
	if gz {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if body, err = io.ReadAll(zr); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(body, want) {
		t.Errorf("body differs from the rendered page (%d vs %d bytes)", len(body), len(want))
	}
}

func TestServeUnknownKey(t *testing.T) {
	s := loadTestSite(t)
	for _, key := range []string{"", "nope", "p:mug", "MUG"} {
		ctx := newCtx("GET", "Accept-Encoding", "gzip")
		if s.Serve(ctx, key) {
			t.Errorf("Serve(%q) = true", key)
		}
		if ctx.Response.StatusCode() != 200 || len(ctx.Response.Body()) != 0 || len(ctx.Response.Header.Peek("ETag")) != 0 {
			t.Errorf("Serve(%q) wrote a response", key)
		}
	}
}

// TestServeWire checks what fasthttp puts on the wire: HEAD keeps the
// real Content-Length and sends no body; 304 carries no representation
// headers.
func TestServeWire(t *testing.T) {
	s := loadTestSite(t)
	ln := fasthttputil.NewInmemoryListener()
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		if !s.Serve(ctx, string(ctx.Path()[1:])) {
			ctx.SetStatusCode(404)
		}
	}}
	go srv.Serve(ln) //nolint:errcheck
	defer srv.Shutdown()

	raw := func(req string) string {
		c, err := ln.Dial()
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(c, req); err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(c)
		if err != nil && err != io.EOF && !isClosed(err) {
			t.Fatal(err)
		}
		return string(b)
	}
	p := s.pages["tee_2"]
	head := raw("HEAD /tee_2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	if !strings.Contains(head, "Content-Length: "+strconv.Itoa(p.size)+"\r\n") || !strings.HasSuffix(head, "\r\n\r\n") {
		t.Errorf("HEAD response:\n%s", head)
	}
	nm := raw("GET /tee_2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\nIf-None-Match: " + string(p.etag) + "\r\n\r\n")
	if !strings.HasPrefix(nm, "HTTP/1.1 304 ") || strings.Contains(nm, "Content-Type") || strings.Contains(nm, "Content-Length") ||
		!strings.HasSuffix(nm, "\r\n\r\n") {
		t.Errorf("304 response:\n%s", nm)
	}
}

func isClosed(err error) bool {
	return strings.Contains(err.Error(), "closed") || err == net.ErrClosed
}
