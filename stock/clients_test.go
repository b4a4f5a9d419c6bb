package stock

import (
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/flashgate/flashgate/internal/redistest"
)

// TestBackgroundClient: the pub/sub listener, the sync loop and warm-up
// talk to Redis through RedisOptions.Background, a Take through Client,
// so that no loop redials a connection a Take waits on (see
// internal/redisconn). Redis's CLIENT LIST names the connection behind
// each: the subscription is on the background client's, take.lua ran on
// the request client's and nothing subscribed there.
func TestBackgroundClient(t *testing.T) {
	rs := redistest.Start(t)
	named := func(name string) rueidis.Client { return redistest.NamedClient(t, name, rs.Addr()) }
	rq, bg := named("request"), named("background")
	s := newRedisStore(t, rq, func(o *RedisOptions) {
		o.Background = bg
		o.SyncInterval = 20 * time.Millisecond
	})
	mustWarm(t, s, Spec{Activity: "split", Stock: 3, Shards: 2, PerUser: 1}, false)
	mustTake(t, s, "split", "alice", Admitted)

	admin := redistest.Client(t, rs.Addr())
	ctx := testCtx(t, 10*time.Second)
	var list string
	for {
		out, err := admin.Do(ctx, admin.B().ClientList().Build()).ToString()
		if err != nil {
			t.Fatal(err)
		}
		list = out
		if clientWith(list, "background", "sub=1") {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the listener never subscribed on the background client:\n%s", list)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if clientWith(list, "request", "sub=1") {
		t.Errorf("the request client holds the subscription:\n%s", list)
	}
	if !clientWith(list, "request", "cmd=evalsha") && !clientWith(list, "request", "cmd=eval ") {
		t.Errorf("the Take's script did not run on the request client:\n%s", list)
	}
}

// clientWith reports whether a CLIENT LIST line of the connection named
// name contains field.
func clientWith(list, name, field string) bool {
	for _, line := range strings.Split(list, "\n") {
		if strings.Contains(line, " name="+name+" ") && strings.Contains(line+" ", " "+field) {
			return true
		}
	}
	return false
}
