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

// NamedClient is Client with a CLIENT SETNAME, so a test can tell from
// CLIENT LIST which of several clients ran a command.
func NamedClient(t testing.TB, name string, addrs ...string) rueidis.Client {
	t.Helper()
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: addrs, DisableCache: true, ClientName: name})
	if err != nil {
		t.Fatalf("rueidis.NewClient(%v): %v", addrs, err)
	}
	t.Cleanup(c.Close)
	return c
}
