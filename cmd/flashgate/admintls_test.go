package main

import (
	"crypto/tls"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flashgate/flashgate/internal/testcert"
)

// TestAdminTLS: `flashgate admin` reaches an admin port served over TLS
// when it trusts the admin certificate itself or its CA, whatever the
// address it dials, refuses one it does not trust before sending the
// token, and refuses a file with no certificate.
func TestAdminTLS(t *testing.T) {
	dir := t.TempDir()
	certs := testcert.Write(t, dir, "admin")
	other := testcert.Write(t, dir, "other")
	pair, err := tls.LoadX509KeyPair(certs.Cert, certs.Key)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var gotToken []string
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		gotToken = append(gotToken, string(ctx.Request.Header.Peek("Authorization")))
		ctx.SetBodyString(`{"ok":true}`)
	}}
	go func() { _ = srv.Serve(tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{pair}})) }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	// "localhost:port" and "127.0.0.1:port" both work: names are not checked.
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	call := adminCall{method: "GET", path: "/admin/status"}
	for _, tc := range []struct {
		name, file, host string
		ok               bool
	}{
		{"the certificate itself", certs.Cert, "127.0.0.1", true},
		{"its CA", certs.CA, "localhost", true},
		{"another CA", other.CA, "127.0.0.1", false},
		{"another certificate", other.Cert, "127.0.0.1", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := adminTLS(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			before := len(gotToken)
			c := adminClient{addr: net.JoinHostPort(tc.host, port), token: "secret-token-0123456789", timeout: 5 * time.Second, client: &fasthttp.Client{TLSConfig: cfg}}
			body, err := c.do(call)
			if tc.ok && (err != nil || !strings.Contains(string(body), `"ok":true`)) {
				t.Fatalf("do: %q, %v", body, err)
			}
			if !tc.ok {
				if err == nil {
					t.Fatal("an untrusted admin port was called")
				}
				if len(gotToken) != before {
					t.Fatal("the token reached an untrusted server")
				}
			}
		})
	}
	if _, err := adminTLS(certs.Key); err == nil {
		t.Error("a key file taken as a certificate file")
	}
	// Plain HTTP to the TLS port: the handshake fails and the server
	// closes the connection; the error says what to do, not fasthttp's
	// advice to a server's author.
	plain := adminClient{addr: net.JoinHostPort("127.0.0.1", port), token: "secret-token-0123456789", timeout: 5 * time.Second, client: &fasthttp.Client{}}
	_, err = plain.do(call)
	if err == nil || !strings.Contains(err.Error(), "if it serves HTTPS") || !strings.Contains(err.Error(), "--cacert FILE") || strings.Contains(err.Error(), "connection: close") {
		t.Errorf("plain HTTP to a TLS admin port: %v, want the HTTPS hint", err)
	}

	// And the other way round: --cacert against a plain admin port.
	pln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	psrv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString(`{"ok":true}`) }}
	go func() { _ = psrv.Serve(pln) }()
	t.Cleanup(func() { _ = psrv.Shutdown() })
	cfg, err := adminTLS(certs.Cert)
	if err != nil {
		t.Fatal(err)
	}
	tlsToPlain := adminClient{addr: pln.Addr().String(), token: "secret-token-0123456789", timeout: 5 * time.Second, client: &fasthttp.Client{TLSConfig: cfg}}
	if _, err := tlsToPlain.do(call); err == nil || !strings.Contains(err.Error(), "does not serve HTTPS") {
		t.Errorf("--cacert against a plain admin port: %v, want the plain-HTTP hint", err)
	}
}
