package gateway

import (
	"net"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/stock"
)

// benchServer builds a Server without a listener: requests go straight to
// its Handler, so the figures are the gateway's own cost.
func benchServer(tb testing.TB, yaml string) *Server {
	tb.Helper()
	cfg, err := conf.Parse([]byte(yaml))
	if err != nil {
		tb.Fatal(err)
	}
	cfg.Static.Catalogue = "testdata/catalogue.yaml"
	st := stock.NewMemory()
	tb.Cleanup(func() { _ = st.Close() })
	s, err := NewServer(cfg, Deps{Stock: st, AutoWarm: true})
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

var benchAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}

// newCtx returns a RequestCtx for method and path, with headers.
func newCtx(method, path string, headers ...string) *fasthttp.RequestCtx {
	ctx := new(fasthttp.RequestCtx)
	ctx.Init(&fasthttp.Request{}, benchAddr, nil)
	ctx.Request.Header.SetMethod(method)
	ctx.Request.SetRequestURI(path)
	for i := 0; i+1 < len(headers); i += 2 {
		ctx.Request.Header.Set(headers[i], headers[i+1])
	}
	return ctx
}

// serveOnce runs one request through the whole public handler.
func serveOnce(s *Server, ctx *fasthttp.RequestCtx) {
	ctx.Response.Reset()
	s.Handler(ctx)
}

func benchHandler(b *testing.B, yaml, method, path string, want int, headers ...string) {
	s := benchServer(b, yaml)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		ctx := newCtx(method, path, headers...)
		for pb.Next() {
			serveOnce(s, ctx)
			if ctx.Response.StatusCode() != want {
				b.Fatalf("status %d, want %d", ctx.Response.StatusCode(), want)
			}
		}
	})
}

// BenchmarkStaticPage is the product page, routed and served from memory.
func BenchmarkStaticPage(b *testing.B) {
	benchHandler(b, baseYAML, "GET", "/p/phone-x", 200)
}

func BenchmarkStaticPageGzip(b *testing.B) {
	benchHandler(b, baseYAML, "GET", "/p/phone-x", 200, "Accept-Encoding", "gzip")
}

func BenchmarkStaticPage304(b *testing.B) {
	s := benchServer(b, baseYAML)
	ctx := newCtx("GET", "/p/phone-x")
	serveOnce(s, ctx)
	etag := string(ctx.Response.Header.Peek("ETag"))
	benchHandler(b, baseYAML, "GET", "/p/phone-x", 304, "If-None-Match", etag)
}

const chainYAML = baseYAML + `
  - path: /chain/{activity}
    filters: [{test_verdict: {do: pass}}, {test_verdict: {do: pass}}, {test_verdict: {do: pass}}, {test_verdict: {do: pass}}]
    action: {type: static, page: mug}
  - path: /rejected/{activity}
    filters: [{test_verdict: {do: pass}}, {test_verdict: {do: reject}}]
    action: {type: static, page: mug}
`

// BenchmarkPassThroughChain runs four passing filters, then a static action.
func BenchmarkPassThroughChain(b *testing.B) {
	benchHandler(b, chainYAML, "GET", "/chain/phone-sale", 200)
}

// BenchmarkRejection is a chain that stops with a pre-built page.
func BenchmarkRejection(b *testing.B) {
	benchHandler(b, chainYAML, "GET", "/rejected/phone-sale", 418, "Accept", "application/json")
}
