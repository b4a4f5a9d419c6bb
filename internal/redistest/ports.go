package redistest

import (
	"fmt"
	"net"
	"sync"
)

var (
	portsMu sync.Mutex
	// handedOut keeps one test binary from giving the same port to two
	// servers: the kernel may return a just-closed port to the next
	// Listen(":0"), before the first redis-server has bound it.
	handedOut = map[int]bool{}
)

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
// Another process can still take it before redis-server binds it; start
// notices "Address already in use" in the log and picks again.
func freePort() (int, error) {
	for range 20 {
		p, err := listenPort("127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		portsMu.Lock()
		dup := handedOut[p]
		handedOut[p] = true
		portsMu.Unlock()
		if !dup {
			return p, nil
		}
	}
	return 0, fmt.Errorf("redistest: no unused free port after 20 tries")
}

// portFree reports whether port p on 127.0.0.1 can be bound right now.
func portFree(p int) bool {
	_, err := listenPort(fmt.Sprintf("127.0.0.1:%d", p))
	return err == nil
}

func listenPort(addr string) (int, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// busPorts returns a client port and its cluster bus port. Redis 7 takes
// the bus port as cluster-port; older servers always use port+10000, so
// the pair must both be free and the sum must stay below 65536.
func busPorts(major int) (port, bus int, err error) {
	if port, err = freePort(); err != nil {
		return 0, 0, err
	}
	if major >= 7 {
		bus, err = freePort()
		return port, bus, err
	}
	for range 50 {
		if port+10000 <= 65535 && portFree(port+10000) {
			return port, port + 10000, nil
		}
		if port, err = freePort(); err != nil {
			return 0, 0, err
		}
	}
	return 0, 0, fmt.Errorf("redistest: no free port pair p, p+10000 for the cluster bus")
}
