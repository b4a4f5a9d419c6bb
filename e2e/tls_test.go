package e2e

import (
	"crypto/tls"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flashgate/flashgate/internal/testcert"
)

// TestServeTLS: `flashgate serve` with server.tls and admin.tls answers
// HTTPS on both ports with the configured certificate and refuses plain
// HTTP on them; /readyz answers over TLS too.
func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	certs := testcert.Write(t, dir, "gw")
	addr, admin := freeAddr(t), freeAddr(t)
	cfg := writeFile(t, "flashgate.yaml", fmt.Sprintf(`
server: {listen: "%s", tls: {cert_file: %s, key_file: %s}}
admin: {listen: "%s", token: %s, tls: {cert_file: %s, key_file: %s}}
activities: [{id: sale, product: phone-x, stock: 5}]
static: {catalogue: %s}
routes:
  - path: /p/{product}
    action: {type: static, page: "{product}"}
`, addr, certs.Cert, certs.Key, admin, reloadToken, certs.Cert, certs.Key, catalogue))
	start(t, bin.gateway, "serve", "--config", cfg)
	c := &fasthttp.Client{TLSConfig: certs.Client(), ReadTimeout: 5 * time.Second}
	get := func(url string, headers ...string) (int, string, error) {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.SetRequestURI(url)
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		err := c.DoTimeout(req, resp, 5*time.Second)
		return resp.StatusCode(), string(resp.Body()), err
	}
	waitFor(t, func() bool { code, _, err := get("https://" + addr + "/healthz"); return err == nil && code == 200 })
	if code, body, err := get("https://" + addr + "/p/phone-x"); err != nil || code != 200 || !strings.Contains(body, "Phone X") {
		t.Fatalf("public over TLS: %d %v", code, err)
	}
	if code, body, err := get("https://" + addr + "/readyz"); err != nil || code != 200 || !strings.Contains(body, `"ready":true`) {
		t.Fatalf("readyz over TLS: %d %s %v", code, body, err)
	}
	if code, body, err := get("https://"+admin+"/admin/status", "Authorization", "Bearer "+reloadToken); err != nil || code != 200 || !strings.Contains(body, `"activities"`) {
		t.Fatalf("admin over TLS: %d %s %v", code, body, err)
	}
	for _, a := range []string{addr, admin} {
		if code, _, err := fasthttp.GetTimeout(nil, "http://"+a+"/healthz", 2*time.Second); err == nil && code == 200 {
			t.Errorf("plain HTTP answered on the TLS port %s", a)
		}
	}
	// The container health check follows server.tls.
	if out, err := exec.Command(bin.gateway, "health", "--config", cfg).CombinedOutput(); err != nil || !strings.Contains(string(out), "healthy: https://") {
		t.Errorf("flashgate health on a TLS listener: %v %s", err, out)
	}
	// A client that does not trust the CA gets no connection.
	untrusting := &fasthttp.Client{TLSConfig: &tls.Config{MinVersion: tls.VersionTLS12}}
	if _, _, err := untrusting.GetTimeout(nil, "https://"+addr+"/healthz", 2*time.Second); err == nil {
		t.Error("a client without the CA was served")
	}
}
