package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/override"
)

// Server is the public listener. It holds the current Instance behind an
// atomic pointer so a config reload swaps routes without a lock on the
// request path, and it sheds load before routing when too many requests
// are in flight.
type Server struct {
	deps Deps
	log  *slog.Logger

	cur         atomic.Pointer[Instance]
	inflight    atomic.Int64
	maxInflight int64
	shed        *Page
	shedCount   interface{ Inc() }
	srv         *fasthttp.Server
	conns       *connTracker

	reloadMu sync.Mutex
}

// NewServer builds the first Instance from cfg. Listener settings
// (server.*) are fixed for the life of the Server.
func NewServer(cfg *conf.Config, deps Deps) (*Server, error) {
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	if deps.Overrides == nil {
		deps.Overrides = override.NewMemory()
	}
	in, err := Build(cfg, deps)
	if err != nil {
		return nil, err
	}
	exportStockStats(deps.Stock)
	s := &Server{deps: deps, log: deps.Logger, maxInflight: int64(cfg.Server.MaxInflight), conns: newConnTracker()}
	s.cur.Store(in)
	scraped.Store(s)
	s.shed = in.busy
	s.shedCount = requestsTotal.WithLabelValues("", "shed")
	sc := cfg.Server
	s.srv = &fasthttp.Server{
		Handler:                       s.Handler,
		ErrorHandler:                  s.errorHandler,
		ReadTimeout:                   sc.ReadTimeout,
		WriteTimeout:                  sc.WriteTimeout,
		IdleTimeout:                   sc.IdleTimeout,
		ReadBufferSize:                sc.MaxHeaderBytes,
		MaxRequestBodySize:            sc.MaxBodyBytes,
		Concurrency:                   sc.MaxConns,
		DisableKeepalive:              !sc.KeepAlive,
		NoDefaultServerHeader:         true,
		NoDefaultContentType:          true,
		DisableHeaderNamesNormalizing: false,
		CloseOnShutdown:               true,
		Logger:                        slogPrinter{deps.Logger},
	}
	return s, nil
}

// Instance returns the config generation now serving.
func (s *Server) Instance() *Instance { return s.cur.Load() }

var (
	pathHealthz = []byte("/healthz")
	okBody      = []byte("ok\n")
	ctypeText   = []byte("text/plain; charset=utf-8")
)

// Handler is the whole public request path.
func (s *Server) Handler(ctx *fasthttp.RequestCtx) {
	// Liveness is answered before shedding: a busy gateway is alive.
	if bytes.Equal(ctx.Path(), pathHealthz) {
		ctx.Response.Header.SetContentTypeBytes(ctypeText)
		ctx.Response.SetBodyRaw(okBody)
		return
	}
	n := s.inflight.Add(1)
	inflight.Inc()
	defer func() {
		s.inflight.Add(-1)
		inflight.Dec()
	}()
	if s.maxInflight > 0 && n > s.maxInflight {
		s.shedCount.Inc()
		s.shed.Write(ctx)
		return
	}
	s.cur.Load().handler(ctx)
}

// errorHandler answers requests fasthttp could not parse: oversized
// headers (431) and bodies (413), malformed requests (400), with JSON.
func (s *Server) errorHandler(ctx *fasthttp.RequestCtx, err error) {
	status, reason, msg := fasthttp.StatusBadRequest, "bad_request", "malformed request"
	var small *fasthttp.ErrSmallBuffer
	switch {
	case errors.As(err, &small):
		status, reason, msg = fasthttp.StatusRequestHeaderFieldsTooLarge, "header_too_large", "request headers are too large"
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		status, reason, msg = fasthttp.StatusRequestEntityTooLarge, "body_too_large", "request body is too large"
	case isTimeout(err):
		status, reason, msg = fasthttp.StatusRequestTimeout, "request_timeout", "request not received in time"
	}
	ctx.SetStatusCode(status)
	ctx.SetConnectionClose()
	ctx.Response.Header.Set("X-Flashgate-Reason", reason)
	ctx.Response.Header.SetBytesKV(headerCacheCtl, noStore)
	ctx.Response.Header.SetContentTypeBytes(ctypeJSON)
	ctx.SetBodyString(fmt.Sprintf(`{"error":%q,"message":%q,"status":%d}`+"\n", reason, msg, status))
}

// Serve accepts connections on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error { return s.srv.Serve(s.conns.wrap(ln)) }

// ReloadFile reads path with LoadConfig and reloads from it; every failure,
// whether of the file or of the build, is counted and names its file.
func (s *Server) ReloadFile(path string) error {
	cfg, err := LoadConfig(path)
	if err != nil {
		countReload("error")
		return err
	}
	if err := s.Reload(cfg); err != nil {
		return conf.PrefixFile(path, err)
	}
	return nil
}

// Reload builds a new Instance from cfg and swaps it in. On any error the
// running config stays, and the error names every problem.
func (s *Server) Reload(cfg *conf.Config) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	in, err := Build(cfg, s.deps)
	if err != nil {
		countReload("error")
		return err
	}
	old := s.cur.Swap(in)
	countReload("ok")
	// Requests already routed to the old instance finish on it; close it
	// once they are surely done: the slowest is a proxied request.
	grace := old.Config.Server.WriteTimeout + old.Config.Server.ReadTimeout
	for _, u := range old.Config.Upstreams {
		grace = max(grace, u.ConnectTimeout+u.Timeout+old.Config.Server.WriteTimeout)
	}
	grace += time.Second
	time.AfterFunc(grace, func() { _ = old.Close() })
	return nil
}

// countReload records a reload's result and when it happened.
func countReload(result string) {
	reloadsTotal.WithLabelValues(result).Inc()
	lastReload.WithLabelValues(result).SetToCurrentTime()
}

// Shutdown stops accepting, waits for in-flight requests to finish (up to
// ctx) and closes the instance. Connections that have not sent a byte get
// DrainGrace to begin their request; idle keep-alive ones are closed.
func (s *Server) Shutdown(ctx context.Context) error {
	s.conns.drain(DrainGrace)
	err := s.srv.ShutdownWithContext(ctx)
	_ = s.cur.Load().Close()
	return err
}

// slogPrinter adapts slog to fasthttp's Logger.
type slogPrinter struct{ l *slog.Logger }

func (p slogPrinter) Printf(format string, args ...any) {
	p.l.Warn("fasthttp", "msg", fmt.Sprintf(format, args...))
}
