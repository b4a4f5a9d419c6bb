package redistest

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// replicaTimeout bounds the wait for a new replica's first full sync.
const replicaTimeout = 10 * time.Second

// StartReplica runs a standalone redis-server that replicates master
// (`replicaof`), on its own free port and directory, and returns once the
// replica's link is up and master counts it as an online replica, so a
// WAIT on master can be satisfied at once. Pause (SIGSTOP) freezes it
// while master keeps serving: writes are no longer acknowledged, which is
// how a replica that lags or is cut off looks to WAIT. Killed by
// t.Cleanup; t.Fatal on any failure.
func StartReplica(t testing.TB, master *Server) *Server {
	t.Helper()
	// A master waits repl-diskless-sync-delay (5 s) for more replicas
	// before the first full sync; a test has one.
	if err := configSet(master.Addr(), "repl-diskless-sync-delay", "0"); err != nil {
		t.Fatalf("redistest: %s: %v", master.Addr(), err)
	}
	r := start(t, &Server{replicaOf: master.port})
	deadline := time.Now().Add(replicaTimeout)
	var last error
	for time.Now().Before(deadline) {
		if last = replicaOnline(master.Addr(), r.port); last == nil {
			if last = acknowledged(master.Addr()); last == nil {
				return r
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.logTo(t)
	t.Fatalf("redistest: replica %s of %s not online within %s: %v", r.Addr(), master.Addr(), replicaTimeout, last)
	return nil
}

func configSet(addr, key, value string) error {
	c, err := dialRESP(addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.str("CONFIG", "SET", key, value)
	return err
}

// replicaOnline reports whether master lists the replica on port as
// online (INFO replication: slaveN:ip=...,port=...,state=online,...).
func replicaOnline(master string, port int) error {
	c, err := dialRESP(master, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	info, err := c.str("INFO", "replication")
	if err != nil {
		return err
	}
	m := parseInfo(info)
	n, _ := strconv.Atoi(m["connected_slaves"])
	for i := 0; i < n; i++ {
		fields := parseFields(m["slave"+strconv.Itoa(i)])
		if fields["port"] == strconv.Itoa(port) && fields["state"] == "online" {
			return nil
		}
	}
	return fmt.Errorf("master lists %d replicas, none online on port %d", n, port)
}

// acknowledged writes on master and waits (WAIT, at most 1 s) for one
// replica to acknowledge it: a replica listed online may not have sent
// its first acknowledgement yet (we saw the first WAIT take 0.9 s).
func acknowledged(master string) error {
	c, err := dialRESP(master, 2*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.str("SET", "redistest:replica-probe", "1"); err != nil {
		return err
	}
	start := time.Now()
	v, err := c.do("WAIT", "1", "1000")
	if err != nil {
		return err
	}
	if n, ok := v.(int64); !ok || n < 1 {
		return fmt.Errorf("WAIT 1 1000 = %v after %v", v, time.Since(start))
	}
	return nil
}

// parseFields splits "k1=v1,k2=v2" (an INFO value).
func parseFields(s string) map[string]string {
	out := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			out[k] = v
		}
	}
	return out
}
