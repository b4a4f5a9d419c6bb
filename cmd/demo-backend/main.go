// Command demo-backend is the demo order backend that flashgate forwards
// admitted buyers to, for `make run`, integration tests and benchmarks.
// It can fail or slow a share of orders on purpose; see -help.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flashgate/flashgate/internal/demobackend"
)

// shutdownTimeout bounds the wait for in-flight orders on SIGTERM, so a
// stuck client cannot keep the process alive past its supervisor's patience.
const shutdownTimeout = 10 * time.Second

// DemoSessionSecret is the demo's session key, the one conf/demo.yaml's
// identity filters verify with. A demo value: never reuse it.
const DemoSessionSecret = "demo-session-secret-0123456789abcdef0123"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "demo-backend:", err)
		os.Exit(2)
	}
}

// run serves until ctx is done, then shuts down gracefully. It is main
// without the process: tests call it with their own context and log.
func run(ctx context.Context, args []string, logw io.Writer) error {
	fs := flag.NewFlagSet("demo-backend", flag.ContinueOnError)
	fs.SetOutput(logw)
	listen := fs.String("listen", "127.0.0.1:9090", "address to listen on")
	failRate := fs.Float64("fail-rate", 0, "fraction of orders, in [0,1], answered 500 and not recorded")
	latency := fs.Duration("latency", 0, "delay added to every order")
	workers := fs.Int("workers", 0, "orders worked on at once, the rest wait (with -latency: at most workers/latency orders a second); 0 = no cap")
	reject := fs.Bool("reject-duplicates", true, "answer a repeated Idempotency-Key with 409; if false, record another order")
	secret := fs.String("session-secret", DemoSessionSecret, "HS256 key of the demo sign-in's session JWTs (>= 32 bytes; \"\" disables /login)")
	ttl := fs.Duration("session-ttl", demobackend.DefaultSessionTTL, "how long a demo sign-in session lasts")
	shop := fs.String("shop-name", "Flash Shop", "the shop's name on the sign-in page")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	case math.IsNaN(*failRate) || *failRate < 0 || *failRate > 1:
		return fmt.Errorf("-fail-rate: must be in [0,1], got %v", *failRate)
	case *latency < 0:
		return fmt.Errorf("-latency: must be >= 0, got %s", *latency)
	case *workers < 0:
		return fmt.Errorf("-workers: must be >= 0, got %d", *workers)
	case *secret != "" && len(*secret) < 32:
		return fmt.Errorf("-session-secret: must be at least 32 bytes, got %d", len(*secret))
	case *ttl <= 0:
		return fmt.Errorf("-session-ttl: must be > 0, got %s", *ttl)
	}

	b := demobackend.New(demobackend.Options{
		FailRate:        *failRate,
		Latency:         *latency,
		Workers:         *workers,
		AllowDuplicates: !*reject,
		SessionSecret:   []byte(*secret),
		SessionTTL:      *ttl,
		ShopName:        *shop,
	})
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &fasthttp.Server{
		Handler:            b.Handler,
		Name:               "flashgate-demo-backend",
		ReadTimeout:        10 * time.Second,
		WriteTimeout:       10 * time.Second,
		IdleTimeout:        time.Minute,
		MaxRequestBodySize: demobackend.MaxBodySize,
		CloseOnShutdown:    true,
	}
	logger := log.New(logw, "demo-backend: ", log.LstdFlags)
	logger.Printf("listening on %s", ln.Addr())

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.ShutdownWithContext(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	logger.Printf("stopped after %d orders", b.Orders())
	return nil
}
