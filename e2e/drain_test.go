package e2e

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSIGTERMIdleConnections: a connection that was accepted but never
// sent a byte does not hold the exit for server.read_timeout (20 s here;
// fasthttp alone held it about 5 s, until it counts a new connection as
// idle), on the public port or the admin port. A client caught mid-send
// still gets its answer: only connections with nothing read are cut short.
func TestSIGTERMIdleConnections(t *testing.T) {
	gw, addr, admin := drainGateway(t, "read_timeout: 20s, shutdown_timeout: 30s")
	dial := func(a string) net.Conn {
		t.Helper()
		c, err := net.DialTimeout("tcp", a, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	idle, idleAdmin := dial(addr), dial(admin)
	// Half a request: the headers are not finished.
	midSend := dial(addr)
	if _, err := io.WriteString(midSend, "GET /p/phone-x HTTP/1.1\r\nHost: shop.test\r\n"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // the gateway has accepted all three and read the half request

	sent := time.Now()
	if err := gw.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// The client finishes its request after the drain grace has passed.
	time.Sleep(1000 * time.Millisecond)
	finishRequest(t, midSend, "mid-send request")

	if code := gw.wait(t, 15*time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	// A correctness bound, with room for a loaded machine: the drain grace
	// is 0.5 s, read_timeout 20 s, and fasthttp alone takes 5 s.
	if took := time.Since(sent); took > 3*time.Second {
		t.Errorf("exit %v after SIGTERM with idle connections open, want well under read_timeout (20s)", took)
	}
	// The idle connections were closed without an answer: they asked nothing.
	for name, c := range map[string]net.Conn{"public": idle, "admin": idleAdmin} {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		b, err := io.ReadAll(c)
		if err != nil || len(b) != 0 {
			t.Errorf("%s idle connection: read %q, %v; want a plain close", name, b, err)
		}
	}
	if strings.Contains(gw.out.String(), "drain incomplete") {
		t.Errorf("drain reported incomplete:\n%s", gw.out.String())
	}
}

// TestSIGTERMStopsBothListenersAtOnce: SIGTERM stops the public and the
// admin listener together. Drained one after the other, a request half
// sent on the admin port (whose read timeout is 10 s) kept the public
// port accepting new connections, and cut them off when the budget ran
// out, with exit 1. The admin request still gets its answer.
func TestSIGTERMStopsBothListenersAtOnce(t *testing.T) {
	gw, addr, admin := drainGateway(t, "shutdown_timeout: 20s")
	half, err := net.DialTimeout("tcp", admin, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer half.Close()
	if _, err := io.WriteString(half, "GET /admin/status HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer drain-test-token-0123456789\r\n"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // accepted, the half request read
	if err := gw.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// Give the signal a moment, then try the public port for a while: it
	// must refuse (or close at once) rather than serve.
	time.Sleep(300 * time.Millisecond)
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			continue // refused: the listener is closed
		}
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		_, _ = io.WriteString(c, "GET /p/phone-x HTTP/1.1\r\nHost: shop.test\r\n\r\n")
		if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err == nil {
			resp.Body.Close()
			t.Errorf("public port accepted and served %d after SIGTERM while an admin request was open", resp.StatusCode)
		}
		c.Close()
	}
	finishRequest(t, half, "admin request")
	if code := gw.wait(t, 15*time.Second); code != 0 {
		t.Fatalf("exit code %d:\n%s", code, gw.out.String())
	}
}

// finishRequest ends the header of the request half sent on c and wants
// its 200: a request begun before the drain is answered.
func finishRequest(t *testing.T, c net.Conn, what string) {
	t.Helper()
	if _, err := io.WriteString(c, "\r\n"); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("%s lost in the drain: %v", what, err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("%s in the drain: %d, want 200", what, resp.StatusCode)
	}
}

// drainGateway starts a gateway serving the product page, with an admin
// port, under the given server settings (YAML flow-map entries beside
// listen), and returns it with its public and admin addresses.
func drainGateway(t *testing.T, server string) (*proc, string, string) {
	t.Helper()
	addr, admin := freeAddr(t), freeAddr(t)
	cfg := writeFile(t, "flashgate.yaml", `
server: {listen: "`+addr+`", `+server+`}
admin: {listen: "`+admin+`", token: drain-test-token-0123456789}
log: {level: info, format: text}
activities: [{id: sale, product: phone-x, stock: 1}]
static: {catalogue: `+catalogue+`}
routes:
  - path: /p/{product}
    action: {type: static, page: "{product}"}
`)
	return gateway(t, cfg, addr), addr, admin
}
