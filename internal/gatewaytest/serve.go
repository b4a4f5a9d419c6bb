// Package gatewaytest serves a built gateway to a test with no network,
// the one way the filter, gateway and async tests drive a real Server.
package gatewaytest

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"

	"github.com/flashgate/flashgate/gateway"
)

// Serve runs s on an in-memory listener until the test ends (then shuts
// it down, within 5 s) and returns a client that dials it.
func Serve(t testing.TB, s *gateway.Server) *fasthttp.Client {
	t.Helper()
	ln := fasthttputil.NewInmemoryListener()
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return &fasthttp.Client{Dial: func(string) (net.Conn, error) { return ln.Dial() }, ReadTimeout: 5 * time.Second}
}
