// Command takecmd prints the redis-benchmark arguments that run take.lua
// exactly as the gateway runs it for one activity (bench/run.sh uses it),
// after loading the script into the configured Redis. With --order-bytes
// it prints the async-mode call, which appends an order of that size to
// the shard's orders Stream on admission.
//
//	go run ./bench/takecmd --config bench.yaml --activity big [--order-bytes 256]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/flashgate/flashgate/conf"
	_ "github.com/flashgate/flashgate/filters" // conf.Load checks the filters' sections
	"github.com/flashgate/flashgate/internal/redisconn"
	"github.com/flashgate/flashgate/stock"
)

func main() {
	path := flag.String("config", "", "config file with redis.addrs")
	activity := flag.String("activity", "", "warmed activity")
	shard := flag.Int("shard", 0, "shard whose keys the script uses")
	orderBytes := flag.Int("order-bytes", 0, "async mode: append an order of this many bytes (0: sync mode)")
	flag.Parse()
	if err := run(*path, *activity, *shard, strings.Repeat("o", max(*orderBytes, 0))); err != nil {
		fmt.Fprintln(os.Stderr, "takecmd:", err)
		os.Exit(1)
	}
}

func run(path, activity string, shard int, order string) error {
	cfg, err := conf.Load(path)
	if err != nil {
		return err
	}
	rc, err := redisconn.Open(cfg.Redis)
	if err != nil || rc == nil {
		return fmt.Errorf("redis: %v", err)
	}
	defer rc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rc.Do(ctx, rc.B().ScriptLoad().Script(stock.TakeScript()).Build()).Error(); err != nil {
		return err
	}
	st, err := stock.NewRedis(stock.RedisOptions{Client: rc, Prefix: cfg.Redis.Prefix, Timeout: 5 * time.Second})
	if err != nil {
		return err
	}
	defer st.Close()
	cmd, err := st.(*stock.RedisStore).TakeCommand(ctx, activity, shard, order)
	if err != nil {
		return err
	}
	fmt.Println(strings.Join(cmd, " "))
	return nil
}
