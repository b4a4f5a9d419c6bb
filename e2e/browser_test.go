package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestShopInBrowser walks the demo as a shopper in headless Chromium
// (Debian's chromium driven by playwright-core; scripts/ensure-browser.sh
// installs both when missing): e2e/browser/shop.mjs signs in, buys, tries
// again, a second shopper buys the last unit, and a third visitor meets
// the sold-out, ended, not-started and rate-limited pages. Screenshots are kept in e2e/browser/artifacts.
func TestShopInBrowser(t *testing.T) {
	if out, err := exec.Command("../scripts/ensure-browser.sh").CombinedOutput(); err != nil {
		t.Fatalf("browser setup: %v\n%s", err, out)
	}
	be := backend(t)
	cfg, addr, _ := demoConfig(t, be)
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Two units: the first shopper buys one and may not buy again, the
	// second buys the last, and the third finds it sold out.
	const sale = "{id: phone-sale, product: phone-x, stock: 100, shards: 4, per_user: 1}"
	if !strings.Contains(string(b), sale) {
		t.Fatalf("conf/demo.yaml no longer has %s", sale)
	}
	mustWrite(t, cfg, strings.Replace(string(b), sale, "{id: phone-sale, product: phone-x, stock: 2, shards: 1, per_user: 1}", 1))
	gateway(t, cfg, addr)

	artifacts, err := filepath.Abs("browser/artifacts")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range screenshots {
		_ = os.Remove(filepath.Join(artifacts, f))
	}
	cmd := exec.Command("node", "shop.mjs")
	cmd.Dir = "browser"
	cmd.Env = append(os.Environ(), "BASE=http://"+addr, "OUT="+artifacts)
	out, err := runBounded(t, cmd, 3*time.Minute)
	t.Logf("shop.mjs:\n%s", out)
	if err != nil {
		t.Fatalf("shop.mjs: %v", err)
	}
	for _, f := range screenshots {
		if fi, err := os.Stat(filepath.Join(artifacts, f)); err != nil || fi.Size() == 0 {
			t.Errorf("screenshot %s missing: %v", f, err)
		}
	}
	// Two phones and the tee bought in async mode.
	if got := orders(t, be); !strings.Contains(got, `"orders":3,"duplicates":0`) {
		t.Errorf("backend orders: %s, want exactly three", got)
	}
}

var screenshots = []string{"product.png", "sign-in.png", "success.png", "sold-out.png", "rate-limited.png"}
