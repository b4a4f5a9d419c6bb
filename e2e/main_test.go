// Package e2e drives real flashgate and demo-backend processes over
// loopback HTTP, against real redis-servers, and stops them with real
// signals.
package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flashgate/flashgate/internal/syncbuf"
)

var bin struct{ gateway, backend string }

// TestMain builds both binaries once for every test in the package.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "flashgate-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin.gateway = filepath.Join(dir, "flashgate")
	bin.backend = filepath.Join(dir, "demo-backend")
	for out, pkg := range map[string]string{bin.gateway: "../cmd/flashgate", bin.backend: "../cmd/demo-backend"} {
		cmd := exec.Command("go", "build", "-o", out, pkg)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "build", pkg, err)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a child process whose output is kept for failure messages.
type proc struct {
	cmd  *exec.Cmd
	out  *syncbuf.Buffer
	done chan struct{}
}

func start(t *testing.T, path string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(path, args...), out: &syncbuf.Buffer{}, done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(path), p.out.String())
		}
	})
	return p
}

// wait returns the exit code, failing the test if it takes longer than d.
func (p *proc) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(d):
		t.Fatalf("process still running after %s", d)
		return -1
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// waitHTTP polls url until it answers 200.
func waitHTTP(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		code, _, err := fasthttp.GetTimeout(nil, url, time.Second)
		if err == nil && code == 200 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s did not come up", url)
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// backend starts a demo backend and returns its address.
func backend(t *testing.T, args ...string) string {
	t.Helper()
	addr := freeAddr(t)
	start(t, bin.backend, append([]string{"-listen", addr}, args...)...)
	waitHTTP(t, "http://"+addr+"/healthz")
	return addr
}

// gateway starts flashgate on cfg (which must listen on addr).
func gateway(t *testing.T, cfg, addr string) *proc {
	t.Helper()
	p := start(t, bin.gateway, "serve", "--config", cfg)
	waitHTTP(t, "http://"+addr+"/healthz")
	return p
}

var client = &fasthttp.Client{MaxConnsPerHost: 512, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second}

// call sends one request and returns status, body and headers.
func call(t testing.TB, method, url string, headers ...string) (int, string, *fasthttp.ResponseHeader) {
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	req.Header.SetMethod(method)
	req.SetRequestURI(url)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp := &fasthttp.Response{}
	if err := client.DoTimeout(req, resp, 10*time.Second); err != nil {
		return 0, err.Error(), nil
	}
	return resp.StatusCode(), string(resp.Body()), &resp.Header
}

// orders asks the demo backend how many orders and duplicates it holds.
func orders(t *testing.T, backendAddr string) string {
	_, body, _ := call(t, "GET", "http://"+backendAddr+"/orders/count")
	return strings.TrimSpace(body)
}
