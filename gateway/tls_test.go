package gateway

import (
	"crypto/tls"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flashgate/flashgate/internal/demobackend"
	"github.com/flashgate/flashgate/internal/testcert"
	"github.com/flashgate/flashgate/stock"
)

// served dials addr over TLS trusting pool's CA and returns the serial of
// the certificate the listener presented, after one HTTPS request.
func served(t *testing.T, addr string, certs testcert.Files) *big.Int {
	t.Helper()
	c := &fasthttp.Client{TLSConfig: certs.Client(), ReadTimeout: 5 * time.Second, MaxIdleConnDuration: time.Nanosecond}
	code, body, err := c.GetTimeout(nil, "https://"+addr+"/p/phone-x", 5*time.Second)
	if err != nil || code != 200 || !strings.Contains(string(body), "Phone X") {
		t.Fatalf("GET over TLS: %d %v", code, err)
	}
	conn, err := tls.Dial("tcp", addr, certs.Client())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber
}

// serveTLS serves a Server built from yaml on a loopback port through
// its public listener (TLS when the config sets server.tls) and returns
// it with the address.
func serveTLS(t *testing.T, yaml string, deps Deps) (*Server, string) {
	t.Helper()
	s, err := NewServer(parse(t, yaml), deps)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve(s.PublicListener(ln)) }()
	t.Cleanup(func() { _ = s.srv.Shutdown() })
	return s, ln.Addr().String()
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestTLSListenerReload: the public listener serves HTTPS with the
// configured files; a reload re-reads them (a renewed certificate is
// presented to new connections on the same address), and a reload whose
// files do not load fails and keeps the running certificate.
func TestTLSListenerReload(t *testing.T) {
	dir := t.TempDir()
	first := testcert.Write(t, dir, "first")
	second := testcert.Write(t, dir, "second")
	cert, key := dir+"/live-cert.pem", dir+"/live-key.pem"
	copyFile(t, first.Cert, cert)
	copyFile(t, first.Key, key)
	yaml := fmt.Sprintf("server: {tls: {cert_file: %s, key_file: %s}}\n", cert, key) + baseYAML
	s, addr := serveTLS(t, yaml, Deps{})

	if got := served(t, addr, first); got.Cmp(first.Serial) != 0 {
		t.Fatalf("serial %v, want the first certificate's", got)
	}
	// Plain HTTP on a TLS listener gets no page.
	if code, _, err := fasthttp.GetTimeout(nil, "http://"+addr+"/p/phone-x", 2*time.Second); err == nil && code == 200 {
		t.Fatal("plain HTTP served on the TLS listener")
	}

	copyFile(t, second.Cert, cert)
	copyFile(t, second.Key, key)
	if _, err := s.Reload(parse(t, yaml)); err != nil {
		t.Fatal(err)
	}
	if got := served(t, addr, second); got.Cmp(second.Serial) != 0 {
		t.Fatalf("after reload: serial %v, want the renewed certificate's", got)
	}

	copyFile(t, first.Cert, cert) // a key that does not match
	if _, err := s.Reload(parse(t, yaml)); err == nil || !strings.Contains(err.Error(), "server.tls: ") {
		t.Fatalf("mismatched key pair accepted: %v", err)
	}
	if got := served(t, addr, second); got.Cmp(second.Serial) != 0 {
		t.Fatalf("a failed reload changed the certificate: %v", got)
	}
}

// TestTLSStartErrors: a listener whose files do not load is a start-up
// error naming the section.
func TestTLSStartErrors(t *testing.T) {
	dir := t.TempDir()
	c := testcert.Write(t, dir, "c")
	for _, y := range []string{
		fmt.Sprintf("server: {tls: {cert_file: %s, key_file: %s/nope.pem}}\n", c.Cert, dir),
		fmt.Sprintf("admin: {listen: '127.0.0.1:0', token: 0123456789abcdef, tls: {cert_file: %s, key_file: %s}}\n", c.Key, c.Key),
	} {
		if _, err := NewServer(parse(t, y+baseYAML), Deps{}); err == nil || !strings.Contains(err.Error(), ".tls: ") {
			t.Errorf("%s: err %v", y, err)
		}
	}
}

// TestTLSConnIsTLS: behind the connection tracking, a TLS connection is
// still TLS to fasthttp, so the backend hears X-Forwarded-Proto: https;
// and the handshake runs under read_timeout, which the janitor keeps: a
// client that connects and never sends its ClientHello is closed within
// about read_timeout, as is one that shakes hands and sends nothing.
func TestTLSConnIsTLS(t *testing.T) {
	_, backend, hl := startBackend(t, demobackend.Options{})
	certs := testcert.Write(t, t.TempDir(), "tls")
	const readTimeout = 300 * time.Millisecond
	yaml := fmt.Sprintf("server: {read_timeout: 300ms, tls: {cert_file: %s, key_file: %s}}\n", certs.Cert, certs.Key) + proxyYAML(backend, "2s")
	_, gwAddr := serveTLS(t, yaml, Deps{Stock: stock.NewMemory(), AutoWarm: true})

	c := &fasthttp.Client{TLSConfig: certs.Client(), ReadTimeout: 5 * time.Second}
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod("POST")
	req.SetRequestURI("https://" + gwAddr + "/buy/phone-sale")
	req.Header.Set("X-User-Id", "u1")
	if err := c.DoTimeout(req, resp, 5*time.Second); err != nil || resp.StatusCode() != 201 {
		t.Fatalf("POST over TLS: %v, %d %s", err, resp.StatusCode(), resp.Body())
	}
	if got := hl.get("X-Forwarded-Proto"); got != "https" {
		t.Errorf("X-Forwarded-Proto %q over TLS, want https", got)
	}

	closedAfter := func(name string, c net.Conn) {
		t.Helper()
		start := time.Now()
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second)) // the test's own bound
		_, err := io.ReadAll(c)
		took := time.Since(start)
		t.Logf("%s: closed after %v (%v)", name, took, err)
		if took < readTimeout-50*time.Millisecond || took > readTimeout+3*time.Second {
			t.Errorf("%s: closed after %v, want about read_timeout (%v)", name, took, readTimeout)
		}
	}
	raw, err := net.DialTimeout("tcp", gwAddr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	closedAfter("no ClientHello", raw)
	shaken, err := tls.Dial("tcp", gwAddr, certs.Client())
	if err != nil {
		t.Fatal(err)
	}
	defer shaken.Close()
	closedAfter("handshake, then nothing", shaken)
}
