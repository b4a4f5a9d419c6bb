package redistest

import (
	"testing"

	"github.com/redis/rueidis"
)

// Client connects a rueidis client to addrs (a standalone server or a
// cluster's seeds), closed by t.Cleanup. Client-side caching is off, as
// in the gateway.
func Client(t testing.TB, addrs ...string) rueidis.Client {
	t.Helper()
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: addrs, DisableCache: true})
	if err != nil {
		t.Fatalf("rueidis.NewClient(%v): %v", addrs, err)
	}
	t.Cleanup(c.Close)
	return c
}
