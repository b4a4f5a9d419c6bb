package e2e

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// dashboardConfig sells "sale" (200 units, one per user, each to be paid
// within 15 minutes, ending in an hour)
// from the memory store, with "later" opening in two hours, and the admin
// port on admin.
func dashboardConfig(listen, admin, be string) string {
	at := func(d time.Duration) string { return time.Now().Add(d).UTC().Format(time.RFC3339) }
	return fmt.Sprintf(`
server: {listen: %q}
admin: {listen: %q, token: %q}
log: {level: warn, format: text}
upstreams: [{name: orders, addrs: [%q], timeout: 5s}]
activities:
  - {id: sale, product: phone-x, stock: 200, shards: 4, per_user: 1, pay_within: 15m, end: %q}
  - {id: later, product: watch-s, stock: 5, start: %q, end: %q}
static: {catalogue: %s}
routes:
  - method: POST            # no name: the default "POST /buy/{activity}" holds braces, which the page must parse
    path: /buy/{activity}
    filters:
      - identity: {header: X-User-Id, require: true}
      - sale_window: {}
      - stock: {}
    action: {type: proxy, upstream: orders, rewrite: /orders}
`, listen, admin, opsToken, be, at(time.Hour), at(2*time.Hour), at(3*time.Hour), catalogue)
}

// TestDashboardInBrowser is the operator's screen in headless Chromium
// (e2e/browser/dashboard.mjs, driven through stdin/stdout): the page signs
// in with the admin token, its numbers follow a bounded load sent from
// here (stock falls, admitted/s and a rejection reason appear), its Pause
// button makes the next purchase 503 paused and its Resume button lets
// purchases through again; the page's stock left ends where the store's
// does. Screenshots go to e2e/browser/artifacts.
func TestDashboardInBrowser(t *testing.T) {
	if out, err := exec.Command("../scripts/ensure-browser.sh").CombinedOutput(); err != nil {
		t.Fatalf("browser setup: %v\n%s", err, out)
	}
	be := backend(t)
	addr, admin := freeAddr(t), freeAddr(t)
	gateway(t, writeFile(t, "gw.yaml", dashboardConfig(addr, admin, be)), addr)

	artifacts, err := filepath.Abs("browser/artifacts")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"dashboard.png", "dashboard-paused.png"} {
		_ = os.Remove(filepath.Join(artifacts, f))
	}
	cmd := exec.Command("node", "dashboard.mjs")
	cmd.Dir = "browser"
	cmd.Env = append(os.Environ(), "ADMIN=http://"+admin, "TOKEN="+opsToken, "OUT="+artifacts)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The whole process group (node and its Chromium) dies with the test,
	// and after three minutes whatever happens.
	killed := time.AfterFunc(3*time.Minute, func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	t.Cleanup(func() {
		killed.Stop()
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		for range lines {
		}
		_ = cmd.Wait()
	})
	// await reads the script's lines (logging its steps) until word.
	await := func(word string) {
		t.Helper()
		for l := range lines {
			t.Logf("dashboard.mjs: %s", l)
			if l == word {
				return
			}
		}
		t.Fatalf("dashboard.mjs ended before %s", word)
	}
	send := func(s string) {
		t.Helper()
		if _, err := io.WriteString(stdin, s+"\n"); err != nil {
			t.Fatalf("to dashboard.mjs: %v", err)
		}
	}
	buy := func(user string) (int, string) {
		code, _, h := call(t, "POST", "http://"+addr+"/buy/sale", "X-User-Id", user, "Accept", "application/json")
		if h == nil {
			return code, ""
		}
		return code, string(h.Peek("X-Flashgate-Reason"))
	}

	await("READY")
	// The load: 300 purchases by 150 users, each trying twice in a row
	// (so admitted and already_purchased run side by side), one every
	// 30 ms (about 10 s: the page polls it ten times), bounded in count and
	// by a 40 s deadline.
	admitted := 0
	codes := map[string]int{}
	deadline := time.Now().Add(40 * time.Second)
	for i := 0; i < 300 && time.Now().Before(deadline); i++ {
		code, reason := buy("u" + strconv.Itoa(i/2))
		codes[strconv.Itoa(code)+" "+reason]++
		if code == 201 {
			admitted++
		}
		time.Sleep(30 * time.Millisecond)
	}
	if admitted != 150 || codes["409 already_purchased"] != 150 {
		t.Fatalf("load answers: %v, want 150 × 201 and 150 × 409 already_purchased", codes)
	}
	await("SEEN")
	send("PAUSE")
	await("PAUSED")
	if code, reason := buy("after-pause"); code != 503 || reason != "paused" {
		t.Fatalf("purchase after the Pause button: %d %s, want 503 paused", code, reason)
	}
	send("RESUME")
	await("RESUMED")
	if code, reason := buy("after-resume"); code != 201 {
		t.Fatalf("purchase after the Resume button: %d %s, want 201", code, reason)
	}
	admitted++
	send("LEFT " + strconv.Itoa(200-admitted))
	await("ok")
	for _, f := range []string{"dashboard.png", "dashboard-paused.png"} {
		if fi, err := os.Stat(filepath.Join(artifacts, f)); err != nil || fi.Size() == 0 {
			t.Errorf("screenshot %s missing: %v", f, err)
		}
	}
	if got := orders(t, be); got != fmt.Sprintf(`{"orders":%d,"duplicates":0}`, admitted) {
		t.Errorf("backend orders: %s, want %d", got, admitted)
	}
}
