package main

import (
	"fmt"
	"io"

	"github.com/flashgate/flashgate/gateway"
	"github.com/flashgate/flashgate/internal/redisconn"
	"github.com/flashgate/flashgate/stock"
)

// cmdCheck validates a config like `nginx -t`, through the stages serve
// runs: load (conf.Load: the whole file decoded and validated, filters'
// and endpoints' settings included, every problem at once), then the
// plan (gateway.Build: templates and catalogue rendered, files read,
// keys loaded, routes registered), without listening. With redis.addrs
// set, the build connects to Redis, and a Redis it cannot reach is exit
// 1, not a config error.
func cmdCheck(args []string, stdout, stderr io.Writer) int {
	_, cfg, ok := loadFlags("check", args, stderr, nil)
	if !ok {
		return exitConfig
	}
	rc, err := redisconn.Open(cfg.Redis)
	if err != nil {
		fmt.Fprintf(stderr, "flashgate check: cannot finish: %v\n", err)
		return exitFail
	}
	st := stock.NewMemory()
	in, err := gateway.Build(cfg, gateway.Deps{Redis: rc, Stock: st})
	if err == nil {
		_ = in.Close()
	}
	_ = st.Close()
	if rc != nil {
		rc.Close()
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitConfig
	}
	fmt.Fprintln(stdout, "config ok")
	return exitOK
}
