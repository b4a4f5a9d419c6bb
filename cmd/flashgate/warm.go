package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/gateway"
	"github.com/flashgate/flashgate/internal/redisconn"
	"github.com/flashgate/flashgate/stock"
)

// cmdWarm pre-heats stock: it loads each activity's stock, shards and
// per-user limit into Redis before the sale. Warming the same spec again
// is a no-op; changing a sale that has sold needs --force.
func cmdWarm(args []string, stdout, stderr io.Writer) int {
	var activity string
	var force bool
	path, ok := configFlag("warm", args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&activity, "activity", "", "warm only this activity id")
		fs.BoolVar(&force, "force", false, "overwrite a sale that has already sold units")
	})
	if !ok {
		return exitConfig
	}
	cfg, err := conf.Load(path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitConfig
	}
	if cfg.Stock.Store != "redis" {
		fmt.Fprintln(stderr, "flashgate warm: stock.store is not \"redis\"; the memory store warms itself at start")
		return exitConfig
	}
	rc, err := redisconn.Open(cfg.Redis)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFail
	}
	defer rc.Close()
	st, err := stock.NewRedis(stock.RedisOptions{Client: rc, Prefix: cfg.Redis.Prefix, Timeout: 5 * time.Second})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFail
	}
	defer st.Close()
	found := false
	for i, ac := range cfg.Activities {
		if activity != "" && ac.ID != activity {
			continue
		}
		found = true
		spec := gateway.SpecOf(&gateway.Activity{Activity: ac, Index: i})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := st.Warm(ctx, spec, force)
		cancel()
		if err != nil {
			fmt.Fprintf(stderr, "activity %s: %v\n", ac.ID, err)
			return exitFail
		}
		fmt.Fprintf(stdout, "warmed %s: stock=%d shards=%d per_user=%d\n", ac.ID, spec.Stock, spec.Shards, spec.PerUser)
	}
	if !found {
		fmt.Fprintf(stderr, "flashgate warm: no activity %q in %s\n", activity, path)
		return exitConfig
	}
	return exitOK
}
