package filters_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/flashgate/flashgate/conf"
	_ "github.com/flashgate/flashgate/filters"
	"github.com/flashgate/flashgate/gateway"
	"github.com/flashgate/flashgate/internal/redistest"
)

// TestReloadLoopsUseTheBackgroundClient: the blacklist and reservation
// reload loops read their Redis sets through Deps.RedisBackground, never
// through the request path's client, so that a reload's dial (2 s
// timeout) never holds a connection a request waits on (see
// internal/redisconn). Redis's CLIENT LIST shows each connection's last
// command: over several reloads, SCARD and SMEMBERS only ever appear on
// the background client's.
func TestReloadLoopsUseTheBackgroundClient(t *testing.T) {
	rs := redistest.Start(t)
	named := func(name string) rueidis.Client { return redistest.NamedClient(t, name, rs.Addr()) }
	cfg, err := conf.Parse(fmt.Appendf(nil, `
redis: {addrs: [%q]}
activities: [{id: sale, stock: 5}]
upstreams: [{name: shop, addrs: ["127.0.0.1:9"]}]
routes:
  - path: /buy/{activity}
    method: POST
    filters:
      - identity: {header: X-User-Id, require: true}
      - blacklist: {refresh: 20ms}
      - reservation: {refresh: 20ms}
      - rate_limit: {scope: user, rate: 10, distributed: true}
    action: {type: proxy, upstream: shop}
`, rs.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	in, err := gateway.Build(cfg, gateway.Deps{Redis: named("request"), RedisBackground: named("background")})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()

	admin := redistest.Client(t, rs.Addr())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	seen := false
	for i := 0; i < 30; i++ { // about 15 reloads of each set
		list, err := admin.Do(ctx, admin.B().ClientList().Build()).ToString()
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(list, "\n") {
			reload := strings.Contains(line, " cmd=scard ") || strings.Contains(line, " cmd=smembers ")
			switch {
			case reload && strings.Contains(line, " name=request "):
				t.Fatalf("a reload ran on the request client:\n%s", line)
			case reload && strings.Contains(line, " name=background "):
				seen = true
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !seen {
		t.Fatal("no reload was seen on the background client")
	}
}
