package redistest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	// readyTimeout bounds the wait for a started server to answer PING.
	readyTimeout = 10 * time.Second
	// stopTimeout bounds a graceful Stop before it falls back to SIGKILL,
	// so a wedged server cannot hang the test.
	stopTimeout = 10 * time.Second
	// startTries is how often Start picks new ports after losing a bind race.
	startTries = 5
	// clusterNodeTimeout is cluster-node-timeout in ms. The default 15 s
	// would make a test that kills a node wait up to 30 s for the cluster
	// to notice and twice that to forgive; 2 s still tolerates a busy CI
	// machine pausing a node.
	clusterNodeTimeout = 2000
)

// Server is one redis-server process. Stop, Kill and Restart may be called
// from any goroutine.
type Server struct {
	bin     string
	dir     string
	cluster bool
	aof     bool // appendonly yes, appendfsync always (StartAOF)
	// replicaOf is the master's port of a replica (StartReplica), else 0.
	replicaOf int
	port      int
	busPort   int // cluster bus port; 0 when not a cluster node

	mu   sync.Mutex
	proc *proc // nil while stopped
}

// proc is one run of the server; done closes when the process has exited.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
}

// Start runs a standalone redis-server on a free 127.0.0.1 port in a
// t.TempDir(), with persistence off, and returns once it answers PING.
// The server is killed by t.Cleanup. Start calls t.Fatal on any failure,
// never t.Skip.
func Start(t testing.TB) *Server {
	t.Helper()
	return start(t, &Server{})
}

// StartAOF is Start with the durability a flash sale needs on one master:
// `appendonly yes` and `appendfsync always`, so every write Redis answered
// is on disk, and a Kill then Restart (same port, same directory) comes
// back with it.
func StartAOF(t testing.TB) *Server {
	t.Helper()
	return start(t, &Server{aof: true})
}

func start(t testing.TB, s *Server) *Server {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		t.Fatal(err)
	}
	s.bin, s.dir = bin, t.TempDir()
	// Registered after TempDir, so it runs first: the process is gone
	// before its directory is removed.
	t.Cleanup(s.Kill)
	for try := 1; ; try++ {
		if err := s.pickPorts(); err != nil {
			t.Fatal(err)
		}
		err := s.launch()
		if err == nil {
			return s
		}
		if try < startTries && s.lostBindRace() {
			t.Logf("redistest: port %d taken before redis-server bound it; retrying", s.port)
			continue
		}
		s.logTo(t)
		t.Fatalf("redistest: starting redis-server on %s: %v", s.Addr(), err)
	}
}

// Addr is the server's "127.0.0.1:port".
func (s *Server) Addr() string { return fmt.Sprintf("127.0.0.1:%d", s.port) }

// Stop shuts the server down with SIGTERM and waits for it to exit; only
// if it has not exited within 10 s is it killed. It does nothing when the
// server is not running.
func (s *Server) Stop() { s.halt(syscall.SIGTERM, stopTimeout) }

// Kill ends the server with SIGKILL, as a crash would: no shutdown work,
// clients see their connections reset. It does nothing when the server is
// not running.
func (s *Server) Kill() { s.halt(syscall.SIGKILL, 0) }

// Restart starts the server again on the same port and in the same
// directory, stopping it first if it is still running, and waits for PING.
// With persistence off the data is gone, as after a crash (a StartAOF
// server comes back with it); a cluster node keeps its identity and slots
// from nodes.conf.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop()
	if err := s.launch(); err != nil {
		s.logTo(t)
		t.Fatalf("redistest: restarting redis-server on %s: %v", s.Addr(), err)
	}
}

func (s *Server) pickPorts() error {
	var err error
	if s.cluster {
		s.port, s.busPort, err = busPorts(majorVersion(s.bin))
	} else {
		s.port, err = freePort()
	}
	if err != nil {
		return err
	}
	// A fresh log, so lostBindRace judges this try and not an earlier one.
	if err := os.Remove(s.logPath()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return os.WriteFile(s.confPath(), []byte(s.config()), 0o644)
}

// config is the redis.conf for the current ports. A file rather than
// command-line flags because `save ""` does not survive every shell and
// redis version as an argument, and because a file can be read after a
// failed test.
func (s *Server) config() string {
	var b strings.Builder
	fmt.Fprintf(&b, "port %d\nbind 127.0.0.1\ndir %s\n", s.port, s.dir)
	b.WriteString("save \"\"\ndaemonize no\nprotected-mode yes\n")
	if s.aof {
		b.WriteString("appendonly yes\nappendfsync always\n")
	} else {
		b.WriteString("appendonly no\n")
	}
	if s.replicaOf != 0 {
		fmt.Fprintf(&b, "replicaof 127.0.0.1 %d\n", s.replicaOf)
	}
	if s.cluster {
		b.WriteString("cluster-enabled yes\ncluster-config-file nodes.conf\n")
		fmt.Fprintf(&b, "cluster-node-timeout %d\ncluster-announce-ip 127.0.0.1\n", clusterNodeTimeout)
		if s.busPort != s.port+10000 {
			fmt.Fprintf(&b, "cluster-port %d\n", s.busPort)
		}
	}
	return b.String()
}

func (s *Server) confPath() string { return filepath.Join(s.dir, "redis.conf") }
func (s *Server) logPath() string  { return filepath.Join(s.dir, "redis.log") }

// launch starts the process and waits until it answers PING. On failure
// the process is killed, so a failed launch leaves nothing running.
func (s *Server) launch() error {
	logf, err := os.OpenFile(s.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close() // the child holds its own descriptor
	cmd := exec.Command(s.bin, s.confPath())
	cmd.Dir = s.dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return err
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); close(p.done) }()
	s.mu.Lock()
	s.proc = p
	s.mu.Unlock()
	if err := s.waitReady(p); err != nil {
		s.Kill()
		return err
	}
	return nil
}

func (s *Server) waitReady(p *proc) error {
	deadline := time.Now().Add(readyTimeout)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			if s.lostBindRace() {
				return fmt.Errorf("redis-server exited: %v: another process took port %d (while a stopped server waited for its restart, or between freePort and the bind)", p.cmd.ProcessState, s.port)
			}
			return fmt.Errorf("redis-server exited: %v", p.cmd.ProcessState)
		default:
		}
		// A PONG counts only once this process says it is ready: while a
		// Kill-then-Restart left the port free, another test's server may
		// have taken it, and its PONG would hide our failed bind.
		if last = ping(s.Addr()); last == nil {
			if s.readyLogged(p.cmd.Process.Pid) {
				return nil
			}
			last = fmt.Errorf("a PONG on %s, but not from redis-server pid %d", s.Addr(), p.cmd.Process.Pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("no PONG within %s: %w", readyTimeout, last)
}

func ping(addr string) error {
	c, err := dialRESP(addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	r, err := c.str("PING")
	if err == nil && r != "PONG" {
		err = fmt.Errorf("PING answered %q", r)
	}
	return err
}

func (s *Server) halt(sig syscall.Signal, grace time.Duration) {
	s.mu.Lock()
	p := s.proc
	s.proc = nil
	s.mu.Unlock()
	if p == nil {
		return
	}
	p.cmd.Process.Signal(sig)
	if grace > 0 {
		select {
		case <-p.done:
			return
		case <-time.After(grace):
			p.cmd.Process.Kill()
		}
	}
	<-p.done
}

// readyLogged reports whether redis-server pid has logged that it
// accepts connections ("<pid>:M ... Ready to accept connections").
func (s *Server) readyLogged(pid int) bool {
	b, err := os.ReadFile(s.logPath())
	if err != nil {
		return false
	}
	prefix := strconv.Itoa(pid) + ":"
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, prefix) && strings.Contains(l, "Ready to accept connections") {
			return true
		}
	}
	return false
}

// lostBindRace reports whether the last launch failed because another
// process took the port between freePort and redis-server's bind.
func (s *Server) lostBindRace() bool {
	b, err := os.ReadFile(s.logPath())
	return err == nil && strings.Contains(string(b), "Address already in use")
}

// logTo copies the end of the redis log into the test output, because the
// temp directory that holds it is removed when the test ends.
func (s *Server) logTo(t testing.TB) {
	t.Helper()
	b, err := os.ReadFile(s.logPath())
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Logf("redistest: reading %s: %v", s.logPath(), err)
		return
	}
	t.Logf("redistest: %s (last 8 KiB):\n%s", s.logPath(), tail(b, 8<<10))
}

// Pause freezes the server with SIGSTOP: connections stay open but nothing
// answers, which is how a Redis that hangs looks to a client.
func (s *Server) Pause() { s.signal(syscall.SIGSTOP) }

// Resume thaws a paused server with SIGCONT; its data is intact.
func (s *Server) Resume() { s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig syscall.Signal) {
	s.mu.Lock()
	p := s.proc
	s.mu.Unlock()
	if p != nil {
		_ = p.cmd.Process.Signal(sig)
	}
}
