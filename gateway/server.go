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
	shedCount   interface{ Inc() }
	srv         *fasthttp.Server
	writeBuffer int
	conns       *connTracker

	reloadMu sync.Mutex
	// tlsPublic and tlsAdmin hold the listeners' certificates; nil when
	// the listener is plain HTTP.
	tlsPublic, tlsAdmin *certSlot
	ready               readiness
	access              *accessLog // nil when log.access_every is 0
}

// NewServer builds the first Instance from cfg. Listener settings
// (server.*) are fixed for the life of the Server.
func NewServer(cfg *conf.Config, deps Deps) (*Server, error) {
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	if deps.Units == nil {
		deps.Units = NewUnits(deps.Stock, deps.Logger)
	}
	if deps.Queues == nil {
		deps.Queues = NewAsyncQueues(deps.Units, deps.Logger)
	}
	if deps.Overrides == nil {
		deps.Overrides = override.NewMemory()
	}
	breakerLog.Store(deps.Logger) // before any breaker is built
	if deps.RedisBreaker == nil && deps.Redis != nil {
		deps.RedisBreaker = NewRedisBreaker(cfg.Redis, deps.Now)
	}
	s := &Server{deps: deps, log: deps.Logger, maxInflight: int64(cfg.Server.MaxInflight), conns: newConnTracker(deadlineTick(cfg.Server.ReadTimeout, cfg.Server.WriteTimeout, cfg.Server.IdleTimeout)),
		access: newAccessLog(deps.AccessLog, cfg.Log.AccessEvery)}
	if cfg.Server.TLS.Enabled() {
		s.tlsPublic = new(certSlot)
	}
	if cfg.Admin.TLS.Enabled() {
		s.tlsAdmin = new(certSlot)
	}
	useCerts, err := s.readCerts(cfg)
	if err != nil {
		return nil, err
	}
	useCerts()
	in, err := Build(cfg, deps)
	if err != nil {
		_ = deps.Queues.Close()
		_ = deps.Units.Close()
		return nil, err
	}
	in.Activate()
	s.cur.Store(in)
	scraped.Store(s)
	s.shedCount = requestsTotal.WithLabelValues("", "shed")
	sc := cfg.Server
	s.writeBuffer = WriteBufferSize(sc, in)
	deps.Logger.Info("write buffer", "bytes", s.writeBuffer, "largest_page", in.LargestPage(),
		"max_memory_bytes", int64(s.writeBuffer)*int64(sc.MaxConns))
	s.srv = s.httpServer(sc)
	return s, nil
}

// httpServer is the listener for sc, writing through buffers of
// s.writeBuffer bytes. The per-request settings were measured with
// BenchmarkConn (conn_bench_test.go: one keep-alive connection, a
// 10.4 KB product page, no network; medians of 5 on the shared 2-core
// build machine, where ns/op moves by ±30%) and with make bench:
//
//   - WriteBufferSize: a page copied into fasthttp's 4 KiB default goes
//     out in 2 writes when larger than the buffer (writes/op). In memory
//     that is no faster; on a socket each extra write is a syscall and a
//     TCP segment: make bench's A/B served the demo page 32% (plain) and
//     45% (gzip, 3.8 KB) faster with a buffer the size of the page. Plain
//     TCP connections now send pages of 2 KiB or more without the buffer
//     (zerocopy.go: headers and page in one writev), so there 4 KiB is
//     enough and only TLS listeners derive the size from the pages.
//   - DisableHeaderNamesNormalizing stays false although it saved a fifth
//     to a quarter of the in-memory cost (2.8 vs 3.7 µs/op plain, 2.2 vs
//     2.7 gzip): with it,
//     fasthttp looks request headers up by exact case, so a client or an
//     HTTP/2-terminating proxy that sends "x-user-id" would lose its
//     identity, token and real IP (bench/header_test.go fails).
//   - ReduceMemoryUsage stays false: it costs 1 alloc per request (it
//     peeks one byte, then takes and returns the buffers), against the 0
//     that every hot path keeps, and hands the buffer back only between
//     requests. The memory it would save is bounded instead by sizing
//     write_buffer_size to the pages.
//   - NoDefaultServerHeader and NoDefaultContentType skip a header write
//     per answer that every handler overrides anyway; fasthttp caches the
//     Date header once a second.
func (s *Server) httpServer(sc conf.Server) *fasthttp.Server {
	return &fasthttp.Server{
		Handler:                       s.Handler,
		ErrorHandler:                  errorHandler,
		ReadTimeout:                   sc.ReadTimeout,
		WriteTimeout:                  sc.WriteTimeout,
		IdleTimeout:                   sc.IdleTimeout,
		ReadBufferSize:                sc.MaxHeaderBytes,
		WriteBufferSize:               s.writeBuffer,
		MaxRequestBodySize:            sc.MaxBodyBytes,
		Concurrency:                   sc.MaxConns,
		DisableKeepalive:              !sc.KeepAlive,
		NoDefaultServerHeader:         true,
		NoDefaultContentType:          true,
		DisableHeaderNamesNormalizing: false,
		CloseOnShutdown:               true,
		Logger:                        newFasthttpLog(s.log, s.deps.Now),
	}
}

// headerRoom is what WriteBufferSize adds to the largest body for the
// status line and headers: a product page's are about 300 bytes (ETag,
// Last-Modified, Cache-Control, Vary, Date, Content-*), a rejection's
// fewer; 1 KiB leaves room for a long Cache-Control.
const headerRoom = 1024

// WriteBufferSize is server.write_buffer_size, or when 0 the size that
// sends every page in a single write: on a plain listener the smallest,
// since pages of zeroCopyMin bytes or more skip the buffer (zerocopy.go)
// and smaller ones fit with their headers; on a TLS listener, where they
// cannot, one that holds the largest HTML page of in's catalogue and its
// rejection pages (see httpServer for what that measured). Listener
// settings are fixed for the life of the Server, so a reload that adds a
// larger page sends it over TLS in two writes until a restart.
func WriteBufferSize(sc conf.Server, in *Instance) int {
	if sc.WriteBufferSize > 0 {
		return sc.WriteBufferSize
	}
	if !sc.TLS.Enabled() {
		return conf.MinWriteBuffer
	}
	n := (in.LargestPage() + headerRoom + 1023) &^ 1023
	return min(max(n, conf.MinWriteBuffer), conf.MaxWriteBuffer)
}

// LargestPage is the largest body the instance sends from memory: a
// catalogue page (plain or gzip) or a rejection page.
func (in *Instance) LargestPage() int {
	n := in.Pages.Largest()
	if in.Site != nil {
		n = max(n, in.Site.LargestBody())
	}
	return n
}

// WriteBuffer is the write buffer size each connection uses.
func (s *Server) WriteBuffer() int { return s.writeBuffer }

// Instance returns the config generation now serving.
func (s *Server) Instance() *Instance { return s.cur.Load() }

var (
	pathHealthz = []byte("/healthz")
	okBody      = []byte("ok\n")
	ctypeText   = []byte("text/plain; charset=utf-8")
)

// Handler is the whole public request path.
func (s *Server) Handler(ctx *fasthttp.RequestCtx) {
	// Liveness and readiness are answered before shedding: a busy gateway
	// is alive, and a load balancer takes an instance out when its Redis
	// is gone, not because it is busy.
	if path := ctx.Path(); bytes.Equal(path, pathHealthz) || bytes.Equal(path, pathReadyz) {
		s.serveProbe(ctx, path)
		return
	}
	if a := s.access; a != nil && a.sample() {
		rec := a.begin(ctx)
		s.serve(ctx)
		a.end(ctx, rec)
		return
	}
	s.serve(ctx)
}

// serveProbe answers /healthz and /readyz. OPTIONS is answered as GET:
// HAProxy's `option httpchk <uri>` probes with it by default, and must
// see the readiness, not a bare 204. Any other method is 405
// method_not_allowed with Allow, as the router answers any route.
func (s *Server) serveProbe(ctx *fasthttp.RequestCtx, path []byte) {
	switch {
	case !ctx.IsGet() && !ctx.IsHead() && !ctx.IsOptions():
		ctx.Response.Header.Set("Allow", "GET, HEAD, OPTIONS")
		s.cur.Load().methodNotAllowed.Write(ctx)
	case bytes.Equal(path, pathHealthz):
		ctx.Response.Header.SetContentTypeBytes(ctypeText)
		ctx.Response.SetBodyRaw(okBody)
	default:
		s.serveReady(ctx)
	}
}

// serve sheds or routes a request.
func (s *Server) serve(ctx *fasthttp.RequestCtx) {
	// No defer: nothing recovers a handler's panic (fasthttp does not),
	// so a panic ends the process and there is no count left to keep
	// right. The gauge reads the counter at scrape time (metrics.go).
	n := s.inflight.Add(1)
	if s.maxInflight > 0 && n > s.maxInflight {
		s.shedCount.Inc()
		s.cur.Load().busy.Write(ctx)
	} else {
		s.cur.Load().handler(ctx)
	}
	s.inflight.Add(-1)
}

// errorHandler answers requests fasthttp could not parse, on both
// listeners: oversized headers (431) and bodies (413), malformed requests
// (400), requests not received in time (408), with JSON. fasthttp logs the
// 400 and 413 connection errors (fasthttpLog counts them) but not these
// two (workerpool.go ignores "small read buffer" and "i/o timeout"), so
// they are counted here.
func errorHandler(ctx *fasthttp.RequestCtx, err error) {
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
	if status == fasthttp.StatusRequestHeaderFieldsTooLarge || status == fasthttp.StatusRequestTimeout {
		connErrorsTotal.Inc()
	}
	ctx.SetStatusCode(status)
	ctx.SetConnectionClose()
	ctx.Response.Header.Set(ReasonHeader, reason)
	SetPrivateJSON(&ctx.Response.Header)
	ctx.SetBodyString(fmt.Sprintf(`{"error":%q,"message":%q,"status":%d}`+"\n", reason, msg, status))
}

// Serve accepts connections on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error { return s.srv.Serve(s.conns.wrap(ln)) }

// ServeConn serves the requests of one connection until it closes or
// fails, with the listener's settings: benchmarks drive a whole
// keep-alive connection through it without a network (bench/conn_bench_test.go).
func (s *Server) ServeConn(c net.Conn) error { return s.srv.ServeConn(c) }

// ReloadFile loads path (conf.Load) and reloads from it, the path serve
// started on; every failure, whether of the file or of the build, is
// counted and names its file.
func (s *Server) ReloadFile(path string) (Report, error) {
	cfg, err := conf.Load(path)
	if err != nil {
		countReload("error")
		return Report{}, err
	}
	return s.Reload(cfg)
}

// Reload builds a new Instance from cfg and swaps it in. On any error the
// running config stays, and the error names every problem. Settings fixed
// at start-up keep their running values; the report lists each one cfg
// changed, and each activity whose running sale kept its stock.
func (s *Server) Reload(cfg *conf.Config) (Report, error) {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	old := s.cur.Load()
	cfg, notApplied := pinStartup(old.Config, cfg)
	useCerts, err := s.readCerts(cfg)
	if err != nil {
		countReload("error")
		return Report{}, err
	}
	in, kept, err := build(cfg, s.deps, old.shared)
	if err != nil {
		countReload("error")
		return Report{}, err
	}
	useCerts() // the certificates change only with a config that built
	in.Activate()
	s.cur.Store(in)
	countReload("ok")
	// Requests already routed to the old instance finish on it; close it
	// once they are surely done: the slowest is a proxied request.
	grace := old.Config.Server.WriteTimeout + old.Config.Server.ReadTimeout
	for _, u := range old.Config.Upstreams {
		grace = max(grace, u.ConnectTimeout+u.Timeout+old.Config.Server.WriteTimeout)
	}
	grace += time.Second
	time.AfterFunc(grace, func() { _ = old.Close() })
	notApplied = append(notApplied, keptSales(kept)...)
	var notLoaded []string
	if !s.deps.AutoWarm {
		changed, missing := changedSales(s.deps.Stock, old.ActivityList, in.ActivityList)
		notApplied, notLoaded = append(notApplied, changed...), missing
	}
	return Report{NotApplied: notApplied, NotLoaded: notLoaded}, nil
}

// countReload records a reload's result and when it happened.
func countReload(result string) {
	reloadsTotal.WithLabelValues(result).Inc()
	lastReload.WithLabelValues(result).SetToCurrentTime()
}

// Shutdown stops accepting, waits for in-flight requests to finish (up to
// ctx) and closes the instance. Connections that have not sent a byte get
// DrainGrace to begin their request; idle keep-alive ones are closed.
// The admin listeners given drain at the same time, under the same ctx
// (one drained after the other would keep the other accepting, and spend
// its budget), and the stores close only once both are done.
func (s *Server) Shutdown(ctx context.Context, admins ...*Admin) error {
	errs := make(chan error, len(admins))
	for _, a := range admins {
		if a == nil {
			errs <- nil
			continue
		}
		go func() { errs <- a.Shutdown(ctx) }()
	}
	s.deps.Queues.StopStreams() // their tail runs while the listeners drain
	s.conns.drain(DrainGrace)
	err := s.srv.ShutdownWithContext(ctx)
	for range admins {
		if aerr := <-errs; aerr != nil && err == nil {
			err = fmt.Errorf("admin: %w", aerr)
		}
	}
	_ = s.cur.Load().Close()
	_ = s.deps.Queues.Close()
	_ = s.deps.Units.Close() // after the queues: a dead letter gives back through it
	return err
}
