package e2e

import (
	"net"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flashgate/flashgate/internal/syncbuf"
)

// TestRunDemoPortTaken: `make run` with a port it needs already held
// names the port and exits non-zero, instead of reporting a demo that a
// foreign process answers for.
func TestRunDemoPortTaken(t *testing.T) {
	addrs := []string{"127.0.0.1:9090", "127.0.0.1:8080", "127.0.0.1:8081"}
	var held []string
	for _, a := range addrs {
		ln, err := net.Listen("tcp4", a)
		if err != nil {
			continue // held by someone else: taken all the same
		}
		held = append(held, a)
		defer ln.Close()
	}
	if len(held) == 0 {
		t.Log("every demo port is held by another process; the script must name them all")
	}
	cmd := exec.Command("../scripts/run-demo.sh")
	out, err := runBounded(t, cmd, 30*time.Second)
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() == 0 {
		t.Fatalf("exit %v, want non-zero:\n%s", err, out)
	}
	for _, a := range held {
		if !strings.Contains(out, "make run: "+a+" is already in use") {
			t.Errorf("output does not name %s:\n%s", a, out)
		}
	}
	if strings.Contains(out, "demo is running") {
		t.Errorf("claims the demo runs:\n%s", out)
	}
}

// runBounded runs cmd in its own process group, killing the whole group
// (a browser the script started, say) after d or when the test dies.
func runBounded(t *testing.T, cmd *exec.Cmd, d time.Duration) (string, error) {
	t.Helper()
	buf := &syncbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = buf, buf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return buf.String(), err
	case <-time.After(d):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		t.Fatalf("still running after %s:\n%s", d, buf.String())
		return "", nil
	}
}
