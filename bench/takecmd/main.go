// Command takecmd prints the redis-benchmark arguments that run take.lua
// exactly as the gateway runs it for one activity (bench/run.sh uses it),
// after loading the script into the configured Redis.
//
//	go run ./bench/takecmd --config bench.yaml --activity big
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/internal/redisconn"
	"github.com/flashgate/flashgate/stock"
)

func main() {
	path := flag.String("config", "", "config file with redis.addrs")
	activity := flag.String("activity", "", "warmed activity")
	shard := flag.Int("shard", 0, "shard whose keys the script uses")
	flag.Parse()
	if err := run(*path, *activity, *shard); err != nil {
		fmt.Fprintln(os.Stderr, "takecmd:", err)
		os.Exit(1)
	}
}

func run(path, activity string, shard int) error {
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
	cmd, err := st.(*stock.RedisStore).TakeCommand(ctx, activity, shard, "")
	if err != nil {
		return err
	}
	fmt.Println(strings.Join(cmd, " "))
	return nil
}
