package bench

import (
	"net"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/gateway"
	"github.com/flashgate/flashgate/stock"
)

// TestHeaderNamesAnyCase: over a real connection, request header names
// match in any case, as HTTP requires and as HTTP/2-terminating proxies
// (which lower-case them) rely on. It fails if the listener's
// DisableHeaderNamesNormalizing is ever turned on for its speed
// (gateway/server.go has the measured cost).
func TestHeaderNamesAnyCase(t *testing.T) {
	cfg, err := conf.Load("bench.yaml")
	if err != nil {
		t.Fatal(err)
	}
	st := stock.NewMemory()
	t.Cleanup(func() { _ = st.Close() })
	s, err := gateway.NewServer(cfg, gateway.Deps{Stock: st, AutoWarm: true})
	if err != nil {
		t.Fatal(err)
	}
	ln := fasthttputil.NewInmemoryListener()
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(func() { _ = ln.Close() })
	c := &fasthttp.Client{Dial: func(string) (net.Conn, error) { return ln.Dial() }}
	for _, name := range []string{"X-User-Id", "x-user-id", "X-USER-ID"} {
		t.Run(name, func(t *testing.T) {
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			req.Header.DisableNormalizing() // send the name exactly as written
			req.Header.SetMethod("POST")
			req.SetRequestURI("http://bench.test/bench/buy/big")
			req.Header.Set(name, "user-"+name)
			if err := c.DoTimeout(req, resp, 10*time.Second); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode() != 200 {
				t.Fatalf("%s: status %d: %s", name, resp.StatusCode(), resp.Body())
			}
		})
	}
}
