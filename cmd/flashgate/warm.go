package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/flashgate/flashgate/gateway"
	"github.com/flashgate/flashgate/internal/redisconn"
	"github.com/flashgate/flashgate/stock"
)

// cmdWarm pre-heats stock: it loads each activity's stock, shards and
// per-user limit into Redis before the sale. Warming the same spec again
// is a no-op; changing a sale that has sold needs --force. It reads the
// config through the stages serve runs (conf.Load, then gateway.Build on
// the Redis store, without listening), so it warms only a config serve
// would accept, and warms the activities as the built plan resolved them.
func cmdWarm(args []string, stdout, stderr io.Writer) int {
	var activity string
	var force bool
	path, cfg, ok := loadFlags("warm", args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&activity, "activity", "", "warm only this activity id")
		fs.BoolVar(&force, "force", false, "overwrite a sale that has already sold units")
	})
	if !ok {
		return exitConfig
	}
	if cfg.Stock.Store != "redis" {
		fmt.Fprintln(stderr, "flashgate warm: stock.store is not \"redis\"; the memory store warms itself at start")
		return exitConfig
	}
	if force && activity == "" && len(cfg.Activities) > 1 {
		// A forced warm resets a sale even when its spec is unchanged, so
		// one flag for a whole config would reset every running sale.
		fmt.Fprintf(stderr, "flashgate warm: --force resets each activity it warms, running sales included (their units sell again and their buyers can buy again): name the one to reset with --activity ID (%d activities in %s)\n", len(cfg.Activities), path)
		return exitConfig
	}
	rc, err := redisconn.Open(cfg.Redis)
	if err != nil {
		fmt.Fprintln(stderr, "flashgate warm:", err)
		return exitFail
	}
	defer rc.Close()
	st, err := stock.NewRedis(stock.RedisOptions{Client: rc, Prefix: cfg.Redis.Prefix, Timeout: 5 * time.Second})
	if err != nil {
		fmt.Fprintln(stderr, "flashgate warm:", err)
		return exitFail
	}
	defer st.Close()
	in, err := gateway.Build(cfg, gateway.Deps{Redis: rc, Stock: st})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitConfig
	}
	defer in.Close()
	var todo []*gateway.Activity
	for _, a := range in.ActivityList {
		if activity == "" || a.ID == activity {
			todo = append(todo, a)
		}
	}
	if len(todo) == 0 {
		fmt.Fprintf(stderr, "flashgate warm: no activity %q in %s\n", activity, path)
		return exitConfig
	}
	warmed, skipped := 0, 0
	var refused, failed []string
	for i := range todo {
		spec := gateway.SpecOf(todo[i])
		// A progress prefix, so a warm-up of many activities shows where it is.
		step := fmt.Sprintf("[%d/%d] ", i+1, len(todo))
		done, err := warmOne(st, spec, force)
		switch {
		case errors.Is(err, stock.ErrExists):
			why := "it has already sold units under another spec"
			if err != stock.ErrExists {
				why = err.Error() // the store's reason: a lost meta key, one behind its shards
			}
			fmt.Fprintf(stderr, "%sactivity %s: refused: %s; "+
				"--activity %s --force resets its stock and ledgers to stock=%d shards=%d per_user=%d\n",
				step, spec.Activity, why, spec.Activity, spec.Stock, spec.Shards, spec.PerUser)
			refused = append(refused, spec.Activity)
		case err != nil:
			fmt.Fprintf(stderr, "%sactivity %s: %v\n", step, spec.Activity, err)
			failed = append(failed, spec.Activity)
		case done:
			warmed++
			fmt.Fprintf(stdout, "%swarmed %s: stock=%d shards=%d per_user=%d\n", step, spec.Activity, spec.Stock, spec.Shards, spec.PerUser)
		default:
			skipped++
			fmt.Fprintf(stdout, "%s%s: already loaded, nothing to do (stock=%d shards=%d per_user=%d)\n",
				step, spec.Activity, spec.Stock, spec.Shards, spec.PerUser)
		}
	}
	if len(todo) > 1 {
		line := fmt.Sprintf("%d activities: %d warmed, %d already loaded", len(todo), warmed, skipped)
		if len(refused) > 0 {
			line += fmt.Sprintf(", %d refused (%s)", len(refused), strings.Join(refused, ", "))
		}
		if len(failed) > 0 {
			line += fmt.Sprintf(", %d failed (%s)", len(failed), strings.Join(failed, ", "))
		}
		fmt.Fprintln(stdout, line)
	}
	if len(refused)+len(failed) > 0 {
		return exitFail
	}
	return exitOK
}

// warmOne warms spec, unless the store already holds exactly it (done is
// false then), within its own deadline: one activity's trouble neither
// stops nor delays the others.
func warmOne(st stock.Store, spec stock.Spec, force bool) (done bool, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if !force {
		if loaded, err := stock.Loaded(ctx, st, spec); err != nil || loaded {
			return false, err
		}
	}
	return true, st.Warm(ctx, spec, force)
}
