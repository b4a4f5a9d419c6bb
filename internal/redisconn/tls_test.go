package redisconn

import (
	"context"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/internal/redistest"
	"github.com/flashgate/flashgate/internal/testcert"
)

// startTLS runs Debian's redis-server (built with TLS) serving TLS only,
// with a certificate from a throwaway CA, and returns its address. The
// process is killed when the test ends.
func startTLS(t *testing.T, certs testcert.Files, authClients string) string {
	t.Helper()
	bin, err := redistest.Binary()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	cmd := exec.Command(bin, "--port", "0", "--tls-port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--tls-cert-file", certs.Cert, "--tls-key-file", certs.Key, "--tls-ca-cert-file", certs.CA,
		"--tls-auth-clients", authClients, "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := "127.0.0.1:" + strconv.Itoa(port)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			_ = c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server --tls-port did not listen within 10s:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func base(addr string) conf.Redis {
	return conf.Redis{Addrs: []string{addr}, Timeout: time.Second, DialTimeout: time.Second}
}

// TestTLSToRedis talks to a real TLS-only redis-server: the configured CA
// verifies it; plain TCP, the system roots and a wrong CA do not.
func TestTLSToRedis(t *testing.T) {
	dir := t.TempDir()
	certs := testcert.Write(t, dir, "redis")
	other := testcert.Write(t, dir, "other")
	addr := startTLS(t, certs, "no")

	tests := []struct {
		name string
		tls  conf.RedisTLS
		ok   bool
	}{
		{"configured CA", conf.RedisTLS{Enabled: true, CAFile: certs.CA}, true},
		{"configured CA, server name", conf.RedisTLS{Enabled: true, CAFile: certs.CA, ServerName: "localhost"}, true},
		{"plain TCP", conf.RedisTLS{}, false},
		{"system roots", conf.RedisTLS{Enabled: true}, false},
		{"another CA", conf.RedisTLS{Enabled: true, CAFile: other.CA}, false},
		{"wrong server name", conf.RedisTLS{Enabled: true, CAFile: certs.CA, ServerName: "redis.example"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := base(addr)
			c.TLS = tc.tls
			cl, err := Open(c)
			if err == nil {
				defer cl.Close()
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
				defer cancel()
				err = cl.Do(ctx, cl.B().Set().Key("tls").Value("yes").Build()).Error()
				if err == nil {
					var v string
					v, err = cl.Do(ctx, cl.B().Get().Key("tls").Build()).ToString()
					if err == nil && v != "yes" {
						t.Fatalf("GET tls = %q", v)
					}
				}
			}
			if (err == nil) != tc.ok {
				t.Fatalf("ok=%v, err=%v", tc.ok, err)
			}
			// A certificate redis.tls does not accept is a setting to
			// fix: a serving process refuses to start on it too, rather
			// than wait for it in the background.
			if !tc.ok && tc.tls.Enabled {
				if _, err := dial(c); err != nil {
					t.Logf("dial: %T %v", err, err)
				}
				if cl, _, err := openLazy(c, nil, nil); err == nil {
					cl.Close()
					t.Fatal("openLazy waited for a certificate it will never accept")
				}
			}
		})
	}
}

// TestTLSClientCertificate: a server that requires client certificates
// (tls-auth-clients yes) admits the configured one and no client without.
func TestTLSClientCertificate(t *testing.T) {
	certs := testcert.Write(t, t.TempDir(), "redis")
	addr := startTLS(t, certs, "yes")
	for _, tc := range []struct {
		name string
		tls  conf.RedisTLS
		ok   bool
	}{
		{"with the client certificate", conf.RedisTLS{Enabled: true, CAFile: certs.CA, CertFile: certs.Cert, KeyFile: certs.Key}, true},
		{"without", conf.RedisTLS{Enabled: true, CAFile: certs.CA}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := base(addr)
			c.TLS = tc.tls
			cl, err := Open(c)
			if err == nil {
				defer cl.Close()
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
				defer cancel()
				err = cl.Do(ctx, cl.B().Ping().Build()).Error()
			}
			if (err == nil) != tc.ok {
				t.Fatalf("ok=%v, err=%v", tc.ok, err)
			}
		})
	}
}

func TestTLSConfigErrors(t *testing.T) {
	dir := t.TempDir()
	certs := testcert.Write(t, dir, "redis")
	tests := []struct {
		name string
		tls  conf.RedisTLS
		want string
	}{
		{"missing CA file", conf.RedisTLS{Enabled: true, CAFile: dir + "/nope.pem"}, "redis.tls.ca_file: open"},
		{"CA file without PEM", conf.RedisTLS{Enabled: true, CAFile: certs.Key}, "redis.tls.ca_file: no PEM certificate"},
		{"client key missing", conf.RedisTLS{Enabled: true, CertFile: certs.Cert, KeyFile: dir + "/nope.pem"}, "redis.tls: client certificate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tlsConfig(tc.tls)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
	if tc, err := tlsConfig(conf.RedisTLS{}); tc != nil || err != nil {
		t.Fatalf("off: %v %v", tc, err)
	}
}
