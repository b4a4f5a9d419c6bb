package redistest

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	slotCount = 16384
	// clusterTimeout bounds Wait. Gossip settles in about a second, but a
	// master that has just started holds cluster_state:fail for 2 s
	// (CLUSTER_WRITABLE_DELAY), and a busy 2-core CI machine is slower.
	clusterTimeout = 20 * time.Second
	// addSlotsBatch keeps one ADDSLOTS command (pre-7.0 servers) small.
	addSlotsBatch = 1024
)

// Cluster is a Redis Cluster of masters without replicas, on 127.0.0.1.
type Cluster struct {
	nodes []*Server
}

// StartCluster starts n (at least 3) cluster-enabled masters, gives each
// an even share of the 16384 slots, joins them with CLUSTER MEET and
// returns when every node reports cluster_state:ok and all agree on the
// slot map. All nodes are killed by t.Cleanup. It calls t.Fatal on any
// failure, never t.Skip.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	if n < 3 {
		t.Fatalf("redistest: a cluster needs at least 3 masters, got %d", n)
	}
	c := &Cluster{nodes: make([]*Server, n)}
	for i := range c.nodes {
		c.nodes[i] = start(t, &Server{cluster: true})
	}
	if err := c.form(); err != nil {
		c.logTo(t)
		t.Fatalf("redistest: forming cluster: %v", err)
	}
	c.Wait(t)
	return c
}

// Addrs are the nodes' "127.0.0.1:port", in node order; any of them is a
// valid seed for a cluster client.
func (c *Cluster) Addrs() []string {
	out := make([]string, len(c.nodes))
	for i, s := range c.nodes {
		out[i] = s.Addr()
	}
	return out
}

// Node returns node i, to Kill, Stop or Restart it. After a Restart, call
// Wait before relying on the cluster again.
func (c *Cluster) Node(i int) *Server { return c.nodes[i] }

// Wait blocks until every node reports cluster_state:ok with all slots
// assigned, sees every other node connected and not failing, and all
// nodes return the same slot map; it calls t.Fatal after 20 s. Use it
// after restarting a node, whose peers need a few node timeouts to
// forgive it.
func (c *Cluster) Wait(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(clusterTimeout)
	for {
		err := c.converged()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			c.logTo(t)
			t.Fatalf("redistest: cluster not ready within %s: %v", clusterTimeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// form assigns slots and introduces the nodes. Distinct config epochs, as
// redis-cli --cluster create sets them, spare the nodes the epoch
// collision round that would otherwise delay agreement.
func (c *Cluster) form() error {
	n := len(c.nodes)
	for i, s := range c.nodes {
		conn, err := dialRESP(s.Addr(), 2*time.Second)
		if err != nil {
			return fmt.Errorf("node %d: %w", i, err)
		}
		err = setup(conn, i+1, i*slotCount/n, (i+1)*slotCount/n-1)
		conn.Close()
		if err != nil {
			return fmt.Errorf("node %d (%s): %w", i, s.Addr(), err)
		}
	}
	conn, err := dialRESP(c.nodes[0].Addr(), 2*time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	for _, s := range c.nodes[1:] {
		args := []string{"CLUSTER", "MEET", "127.0.0.1", strconv.Itoa(s.port)}
		if s.busPort != s.port+10000 {
			args = append(args, strconv.Itoa(s.busPort))
		}
		if _, err := conn.do(args...); err != nil {
			return fmt.Errorf("CLUSTER MEET %s: %w", s.Addr(), err)
		}
	}
	return nil
}

func setup(conn *respConn, epoch, lo, hi int) error {
	if _, err := conn.do("CLUSTER", "SET-CONFIG-EPOCH", strconv.Itoa(epoch)); err != nil {
		return fmt.Errorf("CLUSTER SET-CONFIG-EPOCH: %w", err)
	}
	_, err := conn.do("CLUSTER", "ADDSLOTSRANGE", strconv.Itoa(lo), strconv.Itoa(hi))
	if _, isReply := err.(respError); !isReply {
		return err // nil, or an I/O error that a fallback would not fix
	}
	// Before Redis 7.0 there is no ADDSLOTSRANGE.
	for from := lo; from <= hi; from += addSlotsBatch {
		args := []string{"CLUSTER", "ADDSLOTS"}
		for s := from; s <= hi && s < from+addSlotsBatch; s++ {
			args = append(args, strconv.Itoa(s))
		}
		if _, err := conn.do(args...); err != nil {
			return fmt.Errorf("CLUSTER ADDSLOTS %d..: %w", from, err)
		}
	}
	return nil
}

// converged returns nil when the cluster is usable, else what is missing.
func (c *Cluster) converged() error {
	ports := make(map[int]bool, len(c.nodes))
	for _, s := range c.nodes {
		ports[s.port] = true
	}
	var first string
	for i, s := range c.nodes {
		m, err := nodeState(s.Addr(), len(c.nodes), ports)
		if err != nil {
			return fmt.Errorf("node %d (%s): %w", i, s.Addr(), err)
		}
		if i == 0 {
			first = m
		} else if m != first {
			return fmt.Errorf("node %d (%s) sees slots %s, node 0 sees %s", i, s.Addr(), m, first)
		}
	}
	return nil
}

// nodeState checks one node's view and returns its slot map in a
// canonical form ("0-5460@127.0.0.1:port ...") for comparison.
func nodeState(addr string, n int, ports map[int]bool) (string, error) {
	conn, err := dialRESP(addr, time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	info, err := conn.str("CLUSTER", "INFO")
	if err != nil {
		return "", err
	}
	kv := parseInfo(info)
	switch {
	case kv["cluster_state"] != "ok":
		return "", fmt.Errorf("cluster_state:%s", kv["cluster_state"])
	case kv["cluster_slots_assigned"] != strconv.Itoa(slotCount):
		return "", fmt.Errorf("cluster_slots_assigned:%s", kv["cluster_slots_assigned"])
	case kv["cluster_known_nodes"] != strconv.Itoa(n):
		return "", fmt.Errorf("cluster_known_nodes:%s, want %d", kv["cluster_known_nodes"], n)
	}
	nodes, err := conn.str("CLUSTER", "NODES")
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(strings.TrimSpace(nodes), "\n") {
		f := strings.Fields(line)
		if len(f) < 8 {
			return "", fmt.Errorf("short CLUSTER NODES line %q", line)
		}
		if strings.Contains(f[2], "fail") || f[7] != "connected" {
			return "", fmt.Errorf("peer %s is %s/%s", f[1], f[2], f[7])
		}
	}
	return slotMap(conn, ports)
}

func parseInfo(info string) map[string]string {
	kv := make(map[string]string)
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok {
			kv[k] = v
		}
	}
	return kv
}

// slotMap reads CLUSTER SLOTS and checks that the ranges cover every slot
// exactly once and point at our nodes by 127.0.0.1, which is what a
// cluster client will dial.
func slotMap(conn *respConn, ports map[int]bool) (string, error) {
	v, err := conn.do("CLUSTER", "SLOTS")
	if err != nil {
		return "", err
	}
	type rng struct {
		lo, hi int64
		addr   string
	}
	var rs []rng
	for _, e := range asSlice(v) {
		f := asSlice(e)
		if len(f) < 3 {
			return "", fmt.Errorf("bad CLUSTER SLOTS entry %v", e)
		}
		lo, _ := f[0].(int64)
		hi, _ := f[1].(int64)
		m := asSlice(f[2])
		if len(m) < 2 {
			return "", fmt.Errorf("bad CLUSTER SLOTS master %v", f[2])
		}
		ip, _ := m[0].(string)
		port, _ := m[1].(int64)
		if ip != "127.0.0.1" || !ports[int(port)] {
			return "", fmt.Errorf("slots %d-%d served by %q:%d, not one of ours", lo, hi, ip, port)
		}
		rs = append(rs, rng{lo, hi, fmt.Sprintf("%s:%d", ip, port)})
	}
	slices.SortFunc(rs, func(a, b rng) int { return int(a.lo - b.lo) })
	var b strings.Builder
	next := int64(0)
	for _, r := range rs {
		if r.lo != next {
			return "", fmt.Errorf("slot %d not covered", next)
		}
		next = r.hi + 1
		fmt.Fprintf(&b, "%d-%d@%s ", r.lo, r.hi, r.addr)
	}
	if next != slotCount {
		return "", fmt.Errorf("slots from %d not covered", next)
	}
	return strings.TrimSpace(b.String()), nil
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

func (c *Cluster) logTo(t testing.TB) {
	t.Helper()
	for _, s := range c.nodes {
		if s != nil {
			s.logTo(t)
		}
	}
}
