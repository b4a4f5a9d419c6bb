package bench

import (
	"net"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/flashgate/flashgate/conf"
	_ "github.com/flashgate/flashgate/filters"
	"github.com/flashgate/flashgate/gateway"
	"github.com/flashgate/flashgate/internal/redisconn"
	"github.com/flashgate/flashgate/internal/redistest"
	"github.com/flashgate/flashgate/stock"
)

// server builds a gateway from bench.yaml; with a Redis address the stock
// lives there (warmed), else in memory.
func server(b *testing.B, redisAddr string) *gateway.Server {
	b.Helper()
	cfg, err := conf.Load("bench.yaml")
	if err != nil {
		b.Fatal(err)
	}
	deps := gateway.Deps{}
	if redisAddr == "" {
		deps.Stock, deps.AutoWarm = stock.NewMemory(), true
	} else {
		cfg.Redis.Addrs = []string{redisAddr}
		cfg.Stock.Store = "redis"
		rc, err := redisconn.Open(cfg.Redis)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(rc.Close)
		st, err := stock.NewRedis(stock.RedisOptions{Client: rc, Prefix: cfg.Redis.Prefix, Timeout: cfg.Redis.Timeout})
		if err != nil {
			b.Fatal(err)
		}
		for i, a := range cfg.Activities {
			if err := st.Warm(b.Context(), gateway.SpecOf(gateway.NewActivity(i, a)), true); err != nil {
				b.Fatal(err)
			}
		}
		deps.Redis, deps.Stock = rc, st
	}
	b.Cleanup(func() { _ = deps.Stock.Close() })
	s, err := gateway.NewServer(cfg, deps)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

var peer = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}

func request(method, path string, headers ...string) *fasthttp.RequestCtx {
	ctx := new(fasthttp.RequestCtx)
	ctx.Init(&fasthttp.Request{}, peer, nil)
	ctx.Request.Header.SetMethod(method)
	ctx.Request.SetRequestURI(path)
	for i := 0; i+1 < len(headers); i += 2 {
		ctx.Request.Header.Set(headers[i], headers[i+1])
	}
	return ctx
}

// run drives the public handler from every P, one reused request each.
func run(b *testing.B, s *gateway.Server, want int, method, path string, headers ...string) {
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		ctx := request(method, path, headers...)
		for pb.Next() {
			ctx.Response.Reset()
			s.Handler(ctx)
			if got := ctx.Response.StatusCode(); got != want {
				b.Fatalf("status %d, want %d: %s", got, want, ctx.Response.Body())
			}
		}
	})
}

// BenchmarkStaticPage is the product page: the throughput to compare the
// sold-out path against.
func BenchmarkStaticPage(b *testing.B) {
	run(b, server(b, ""), 200, "GET", "/p/phone-x", "Accept-Encoding", "gzip")
}

// BenchmarkSoldOut is the crowd after the last unit: identity, then the
// stock filter answering from memory. It must not allocate and should be
// within 10% of BenchmarkStaticPage.
func BenchmarkSoldOut(b *testing.B) {
	run(b, server(b, ""), 410, "POST", "/bench/buy/soldout", "X-User-Id", "late-user", "Accept", "application/json")
}

// BenchmarkSoldOutRedis is the same with the Redis store: still no round
// trip once the gateway knows every shard is empty.
func BenchmarkSoldOutRedis(b *testing.B) {
	rs := redistest.Start(b)
	s := server(b, rs.Addr())
	// Learn the sold-out state once, as the first late buyer would.
	ctx := request("POST", "/bench/buy/soldout", "X-User-Id", "first-late")
	for i := 0; i < 16; i++ {
		ctx.Response.Reset()
		s.Handler(ctx)
	}
	b.ResetTimer()
	run(b, s, 410, "POST", "/bench/buy/soldout", "X-User-Id", "late-user", "Accept", "application/json")
}

// admit measures stock decisions that admit: every iteration is a new
// user, so every one takes a unit.
func admit(b *testing.B, s *gateway.Server, parallelism int) {
	var next atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(parallelism)
	b.RunParallel(func(pb *testing.PB) {
		ctx := request("POST", "/bench/buy/big", "Accept", "application/json")
		var user []byte
		for pb.Next() {
			user = strconv.AppendInt(append(user[:0], 'u'), next.Add(1), 10)
			ctx.Request.Header.SetBytesV("X-User-Id", user)
			ctx.Response.Reset()
			s.Handler(ctx)
			if ctx.Response.StatusCode() != 200 {
				b.Fatalf("status %d: %s", ctx.Response.StatusCode(), ctx.Response.Body())
			}
		}
	})
}

// BenchmarkAdmitMemory: a stock decision with the in-memory store.
func BenchmarkAdmitMemory(b *testing.B) { admit(b, server(b, ""), 1) }

// BenchmarkAdmitRedis: a stock decision against a local redis-server, one
// take.lua round trip each. 32 requests per P are in flight at once, as
// under a crowd, so rueidis pipelines them: the figure is throughput.
func BenchmarkAdmitRedis(b *testing.B) {
	rs := redistest.Start(b)
	admit(b, server(b, rs.Addr()), 32)
}
