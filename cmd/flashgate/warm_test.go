package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flashgate/flashgate/internal/redistest"
	"github.com/flashgate/flashgate/stock"
)

// TestWarmRefusalGoesOn: a warm of several activities tries every one: an
// activity refused (it sold under another spec) is named in the summary
// with the --activity ID --force that would reset it, and the activities
// after it are still warmed. --force needs --activity among several, so
// the running sales beside the one to reset are never reset with it.
func TestWarmRefusalGoesOn(t *testing.T) {
	rs := redistest.Start(t)
	catalogue, err := filepath.Abs("../../conf/demo-catalogue.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := func(stock1 int) string {
		path := filepath.Join(t.TempDir(), "flashgate.yaml")
		body := fmt.Sprintf(`redis: {addrs: [%q]}
stock: {store: redis}
static: {catalogue: %q}
activities:
  - {id: a1, product: phone-x, stock: %d}
  - {id: a2, product: phone-x, stock: 5}
  - {id: a3, product: phone-x, stock: 5}
routes: [{path: "/p/phone-x", action: {type: static, page: phone-x}}]
`, rs.Addr(), catalogue, stock1)
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	warm := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := run(append([]string{"warm"}, args...), &out, &errOut)
		return code, out.String(), errOut.String()
	}
	first := cfg(3)
	if code, out, errOut := warm("--config", first, "--activity", "a1"); code != 0 {
		t.Fatalf("warm a1: %d %s %s", code, out, errOut)
	}
	st, err := stock.NewRedis(stock.RedisOptions{Client: redistest.Client(t, rs.Addr()), Prefix: "fg:", Timeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	if d, err := st.Take(ctx, "a1", []byte("buyer")); err != nil || d.Result != stock.Admitted {
		t.Fatalf("take a1: %+v %v", d, err)
	}
	changed := cfg(9)
	code, out, errOut := warm("--config", changed)
	if code != exitFail || !strings.Contains(errOut, "[1/3] activity a1: refused") ||
		!strings.Contains(errOut, "--activity a1 --force resets its stock and ledgers") ||
		!strings.Contains(out, "[2/3] warmed a2") || !strings.Contains(out, "[3/3] warmed a3") ||
		!strings.Contains(out, "3 activities: 2 warmed, 0 already loaded, 1 refused (a1)") {
		t.Fatalf("warm with a1 refused: %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	if d, err := st.Take(ctx, "a2", []byte("buyer")); err != nil || d.Result != stock.Admitted {
		t.Fatalf("take a2: %+v %v", d, err)
	}
	if code, _, errOut := warm("--config", changed, "--force"); code != exitConfig || !strings.Contains(errOut, "name the one to reset with --activity ID") {
		t.Fatalf("--force without --activity: %d %s", code, errOut)
	}
	if code, out, errOut := warm("--config", changed, "--activity", "a1", "--force"); code != 0 || !strings.Contains(out, "warmed a1: stock=9") {
		t.Fatalf("--activity a1 --force: %d %s %s", code, out, errOut)
	}
	c, err := st.Counts(ctx, "a2")
	if err != nil || c.Sold != 1 {
		t.Fatalf("a2 after a1's forced warm: %+v %v: its sale must be kept", c, err)
	}
}
