package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/flashgate/flashgate/conf"
	_ "github.com/flashgate/flashgate/filters" // registers every filter type
	"github.com/flashgate/flashgate/gateway"
	"github.com/flashgate/flashgate/internal/redisconn"
	"github.com/flashgate/flashgate/internal/watch"
	"github.com/flashgate/flashgate/override"
	"github.com/flashgate/flashgate/stock"
)

// cmdServe runs the gateway until SIGTERM or SIGINT, then drains in-flight
// requests and exits 0. SIGHUP reloads the config file; a bad file is
// logged with every error and the running config stays.
func cmdServe(args []string, stdout, stderr io.Writer) int {
	path, cfg, ok := loadFlags("serve", args, stderr, nil)
	if !ok {
		return exitConfig
	}
	log := newLogger(cfg.Log, stderr)
	deps, closeDeps, err := openDeps(cfg, log)
	if err != nil {
		log.Error("cannot start; exiting", "err", err)
		return exitFail
	}
	stopped := false
	defer func() { // after closeDeps: "stopped" is the last line, as the process ends
		if stopped {
			log.Info("stopped")
		}
	}()
	defer closeDeps()
	if cfg.Log.AccessEvery > 0 {
		deps.AccessLog = slog.New(slog.NewJSONHandler(stderr, nil))
	}
	srv, err := gateway.NewServer(cfg, deps)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitConfig
	}
	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		log.Error("cannot listen; exiting", "addr", cfg.Server.Listen, "err", err)
		return exitFail
	}
	reload := func() (gateway.Report, error) {
		rep, err := srv.ReloadFile(path)
		switch {
		case err != nil:
			// One readable string, in text and JSON logs alike (slog's text
			// handler would print a slice as Go's [a b]).
			log.Error("config reload failed; keeping the running config", "file", path, "errors", strings.Join(conf.Problems(err), "; "))
		case len(rep.NotApplied) > 0:
			log.Warn("config reloaded; some changed settings were not applied and keep their running values",
				"file", path, "not_applied", rep.Summary())
		default:
			log.Info("config reloaded", "file", path)
		}
		if err == nil && len(rep.NotLoaded) > 0 {
			log.Warn("activities not loaded into Redis: their purchases are refused (not_loaded) until warmed (flashgate warm --activity ID, or POST /admin/activities/{id}/warm); one that was loaded and sold before (lost from Redis) must be reconciled with the backend's orders first",
				"activities", strings.Join(rep.NotLoaded, ", "))
		}
		return rep, err
	}
	admin, err := gateway.NewAdmin(cfg.Admin, srv, deps, reload)
	if err != nil {
		log.Error("admin", "err", err)
		return exitFail
	}
	ln = srv.PublicListener(ln)
	var reloads chan struct{}
	if cfg.Reload.Watch {
		reloads = make(chan struct{}, 1)
		w, err := watch.File(path, cfg.Reload.Debounce, func() {
			select {
			case reloads <- struct{}{}:
			default: // one already waiting reads the newest file
			}
		})
		if err != nil {
			log.Error("watch config", "file", path, "err", err)
			return exitFail
		}
		defer w.Close()
		log.Info("watching the config file; a change reloads it", "file", path, "debounce", cfg.Reload.Debounce.String())
	}
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	if admin != nil {
		aln, err := net.Listen("tcp", cfg.Admin.Listen)
		if err != nil {
			log.Error("listen admin", "addr", cfg.Admin.Listen, "err", err)
			return exitFail
		}
		aln = srv.AdminListener(aln)
		go func() { errc <- admin.Serve(aln) }()
		log.Info("admin listening", "addr", aln.Addr().String())
	}
	log.Info("flashgate listening", "addr", ln.Addr().String(), "version", version,
		"routes", len(cfg.Routes), "activities", len(cfg.Activities), "stock", cfg.Stock.Store)
	if cfg.Stock.Store == "redis" {
		go warnNotLoaded(cfg, deps.Stock, log)
	}

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(sigs)
	for {
		select {
		case <-reloads:
			_, _ = reload()
		case err := <-errc:
			log.Error("server stopped", "err", err)
			return exitFail
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				_, _ = reload()
				continue
			}
			log.Info("draining", "signal", sig.String(), "timeout", cfg.Server.ShutdownTimeout.String())
			ctx, cancel := context.WithTimeout(context.Background(), cfg.Server.ShutdownTimeout)
			defer cancel()
			if err := srv.Shutdown(ctx, admin); err != nil && !errors.Is(err, context.Canceled) {
				log.Error("drain incomplete", "err", err)
				return exitFail
			}
			stopped = true
			return exitOK
		}
	}
}

// openDeps opens what outlives config reloads: Redis and the stock store.
// Redis gets two clients, one for the request path and one for background
// loops and admin calls, so that a loop never redials a connection a
// request is waiting on (see internal/redisconn).
func openDeps(cfg *conf.Config, log *slog.Logger) (gateway.Deps, func(), error) {
	deps := gateway.Deps{Logger: log}
	rc, err := redisconn.OpenClients(cfg.Redis, log)
	if err != nil {
		return deps, nil, err
	}
	// Both clients' calls are timed and counted by operation.
	deps.Redis, deps.RedisBackground = gateway.InstrumentRedis(rc.Request), gateway.InstrumentRedis(rc.Background)
	switch cfg.Stock.Store {
	case "redis":
		deps.Stock, err = stock.NewRedis(stock.RedisOptions{Client: deps.Redis, Background: deps.RedisBackground,
			Prefix: cfg.Redis.Prefix, Timeout: cfg.Redis.Timeout,
			WaitReplicas: cfg.Redis.WaitReplicas, WaitTimeout: cfg.Redis.WaitTimeout, Logger: log})
		if err != nil {
			rc.Close()
			return deps, nil, err
		}
		// Pauses and window overrides are shared by every instance; their
		// poll and admin writes are background work.
		deps.Overrides = override.NewRedis(context.Background(), deps.RedisBackground, cfg.Redis.Prefix, max(cfg.Redis.Timeout, 500*time.Millisecond), log)
	default:
		deps.Stock = stock.NewMemory()
		deps.AutoWarm = true
		deps.Overrides = override.NewMemory()
	}
	return deps, func() {
		_ = deps.Overrides.Close()
		_ = deps.Stock.Close()
		rc.Close()
	}, nil
}

func newLogger(c conf.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(strings.ToUpper(c.Level)))
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// warnNotLoaded names, once at start-up, the activities the shared store
// does not hold yet: their purchases are refused (not_loaded) until a
// warm-up, which an operator who forgot "flashgate warm" should hear
// before the sale, not from its first buyers. Redis away (the gateway
// started without it): it asks again every few seconds until Redis
// answers, then says it once.
func warnNotLoaded(cfg *conf.Config, st stock.Store, log *slog.Logger) {
	for wait := time.Second; ; wait = min(2*wait, 10*time.Second) {
		missing, err := notLoaded(cfg, st)
		if err == nil {
			if len(missing) > 0 {
				log.Warn("activities not loaded into Redis: their purchases are refused (not_loaded) until warmed (flashgate warm, or POST /admin/activities/{id}/warm)",
					"activities", strings.Join(missing, ", "))
			}
			return
		}
		time.Sleep(wait) // the process ends it at exit
	}
}

// notLoaded lists the activities of cfg the store holds no sale of.
func notLoaded(cfg *conf.Config, st stock.Store) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var missing []string
	for _, a := range cfg.Activities {
		_, ok, err := stock.LoadedSpec(ctx, st, a.ID)
		if err != nil {
			return nil, err
		}
		if !ok {
			missing = append(missing, a.ID)
		}
	}
	return missing, nil
}
