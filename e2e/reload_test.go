package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
)

const reloadToken = "reload-test-admin-token"

// reloadConfig is a gateway whose /limited route has a global bucket of 3
// that refills once in 1000 s, so a spent bucket stays spent for the
// test unless a reload replaces it, and whose last route /v<version>
// tells which file is serving.
func reloadConfig(listen, admin, extra string, version int, stock int) string {
	return fmt.Sprintf(`
server: {listen: "%s"}
admin: {listen: "%s", token: %s}
log: {level: info, format: json}
%s
activities: [{id: sale, product: phone-x, stock: %d}]
static: {catalogue: %s}
routes:
  - path: /p/{product}
    action: {type: static, page: "{product}"}
  - path: /limited
    filters: [{rate_limit: {scope: global, rate: 0.001, burst: 3}}]
    action: {type: static, page: phone-x}
  - name: buy
    method: POST
    path: /buy/{activity}
    filters:
      - identity: {header: X-User-Id, require: true}
      - stock: {}
    action: {type: json, endpoint: stock_decision}
  - path: /v%d
    action: {type: static, page: phone-x}
`, listen, admin, reloadToken, extra, stock, catalogue, version)
}

// load requests the product page from 4 workers until stop (at most
// 20,000 requests) and counts the answers that are not 200.
type load struct {
	stop     chan struct{}
	wg       sync.WaitGroup
	ok, fail atomic.Int64
	mu       sync.Mutex
	first    string
}

func startLoad(addr string) *load {
	l := &load{stop: make(chan struct{})}
	for w := 0; w < 4; w++ {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for i := 0; i < 5000; i++ {
				select {
				case <-l.stop:
					return
				default:
				}
				code, body, _ := call(nil, "GET", "http://"+addr+"/p/phone-x")
				if code == 200 {
					l.ok.Add(1)
					continue
				}
				l.fail.Add(1)
				l.mu.Lock()
				if l.first == "" {
					l.first = fmt.Sprintf("%d %.200s", code, body)
				}
				l.mu.Unlock()
			}
		}()
	}
	return l
}

func (l *load) end(t *testing.T) {
	t.Helper()
	close(l.stop)
	l.wg.Wait()
	if l.fail.Load() != 0 || l.ok.Load() == 0 {
		t.Fatalf("under reloads: %d ok, %d failed (first: %s)", l.ok.Load(), l.fail.Load(), l.first)
	}
	t.Logf("load during reloads: %d requests, none failed", l.ok.Load())
}

func status(t *testing.T, url string) int {
	t.Helper()
	code, _, _ := call(t, "GET", url)
	return code
}

// writeAtomic replaces path as editors do: a new file renamed over it.
func writeAtomic(t *testing.T, path, content string) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), ".flashgate.yaml.tmp")
	mustWrite(t, tmp, content)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// adminReload is POST /admin/reload; it returns the status and the JSON.
func adminReload(t *testing.T, admin string) (int, map[string]any) {
	t.Helper()
	code, body, _ := call(t, "POST", "http://"+admin+"/admin/reload", "Authorization", "Bearer "+reloadToken)
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("reload answer %d is not JSON: %s", code, body)
	}
	return code, m
}

// TestReloadUnderLoad swaps configs while a bounded load runs, through
// each trigger: SIGHUP, POST /admin/reload and a write of the file
// (reload.watch). Not one request fails; a bad file is refused and the old
// config keeps serving; the spent rate-limit bucket stays spent across
// every reload that leaves its settings alone, and only a change of them
// starts it full.
func TestReloadUnderLoad(t *testing.T) {
	type trigger struct {
		name  string
		watch bool
		// reload asks the gateway to read the file again and returns once
		// it has tried, with the admin answer when there is one.
		reload func(t *testing.T, gw *proc, admin string)
	}
	logged := func(t *testing.T, gw *proc, want string, n int) {
		waitFor(t, func() bool { return strings.Count(gw.out.String(), want) >= n })
	}
	var reloads atomic.Int32 // per subtest, reset below
	triggers := []trigger{
		{"SIGHUP", false, func(t *testing.T, gw *proc, _ string) {
			if err := gw.cmd.Process.Signal(syscall.SIGHUP); err != nil {
				t.Fatal(err)
			}
			logged(t, gw, `"msg":"config reload`, int(reloads.Add(1)))
		}},
		{"admin API", false, func(t *testing.T, gw *proc, admin string) {
			adminReload(t, admin)
			logged(t, gw, `"msg":"config reload`, int(reloads.Add(1)))
		}},
		{"file write", true, func(t *testing.T, gw *proc, _ string) {
			logged(t, gw, `"msg":"config reload`, int(reloads.Add(1)))
		}},
	}
	for _, tr := range triggers {
		t.Run(tr.name, func(t *testing.T) {
			reloads.Store(0)
			addr, admin := freeAddr(t), freeAddr(t)
			extra := ""
			if tr.watch {
				extra = "reload: {watch: true, debounce: 100ms}"
			}
			cfg := writeFile(t, "flashgate.yaml", reloadConfig(addr, admin, extra, 0, 5))
			gw := gateway(t, cfg, addr)
			base := "http://" + addr
			for i := 0; i < 3; i++ {
				if c := status(t, base+"/limited"); c != 200 {
					t.Fatalf("burst request %d: %d", i, c)
				}
			}
			if c := status(t, base+"/limited"); c != 429 {
				t.Fatalf("spent bucket: %d, want 429", c)
			}
			l := startLoad(addr)

			// A bad file: refused, every problem named, the old config stays.
			writeAtomic(t, cfg, reloadConfig(addr, admin, extra, 1, 5)+"  - {path: /x, filters: [{nope: {}}], action: {type: static, page: nope}}\n")
			tr.reload(t, gw, admin)
			waitFor(t, func() bool {
				out := gw.out.String()
				return strings.Contains(out, "config reload failed; keeping the running config") &&
					strings.Contains(out, `routes[4].filters[0]: unknown filter type \"nope\"`)
			})
			if c := status(t, base+"/v0"); c != 200 {
				t.Fatalf("old config lost after a bad file: /v0 %d", c)
			}

			// A good file: applied, the bucket kept.
			writeAtomic(t, cfg, reloadConfig(addr, admin, extra, 1, 5))
			tr.reload(t, gw, admin)
			if c := status(t, base+"/v1"); c != 200 {
				t.Fatalf("new config not serving: /v1 %d", c)
			}
			if c := status(t, base+"/v0"); c != 404 {
				t.Fatalf("old route still served: /v0 %d", c)
			}
			if c := status(t, base+"/limited"); c != 429 {
				t.Fatalf("reload refilled an unchanged bucket: %d, want 429", c)
			}

			// Other settings for the bucket: a new, full one.
			writeAtomic(t, cfg, strings.Replace(reloadConfig(addr, admin, extra, 2, 5), "burst: 3", "burst: 4", 1))
			tr.reload(t, gw, admin)
			if c := status(t, base+"/v2"); c != 200 {
				t.Fatalf("third config not serving: /v2 %d", c)
			}
			if c := status(t, base+"/limited"); c != 200 {
				t.Fatalf("a changed bucket kept the old one's state: %d", c)
			}
			l.end(t)
		})
	}
}

// TestReloadReportsNotApplied: a reload that changes settings read only at
// start-up, or the stock of a sale already selling on the memory store,
// answers 200 with each of them in not_applied (and logs them), and the
// running values stay; a bad file gets 422 with its problems as an array.
func TestReloadReportsNotApplied(t *testing.T) {
	addr, admin := freeAddr(t), freeAddr(t)
	good := reloadConfig(addr, admin, "", 0, 5)
	cfg := writeFile(t, "flashgate.yaml", good)
	gw := gateway(t, cfg, addr)
	base := "http://" + addr

	code, m := adminReload(t, admin)
	if code != 200 || m["reloaded"] != true || fmt.Sprint(m["not_applied"]) != "[]" {
		t.Fatalf("unchanged reload: %d %v", code, m)
	}

	if c, body, _ := call(t, "POST", base+"/buy/sale", "X-User-Id", "alice"); c != 200 {
		t.Fatalf("buy: %d %s", c, body)
	}
	changed := reloadConfig(addr, admin, "", 1, 50)
	changed = strings.Replace(changed, `server: {listen: "`+addr+`"}`,
		`server: {listen: "`+addr+`", max_inflight: 7, read_timeout: 9s}`, 1)
	changed = strings.Replace(changed, "log: {level: info, format: json}", "log: {level: debug, format: json}", 1)
	mustWrite(t, cfg, changed)
	code, m = adminReload(t, admin)
	if code != 200 || m["reloaded"] != true {
		t.Fatalf("reload: %d %v", code, m)
	}
	var settings []string
	for _, n := range m["not_applied"].([]any) {
		na := n.(map[string]any)
		if na["reason"] == "" {
			t.Errorf("no reason for %v", na)
		}
		settings = append(settings, na["setting"].(string))
	}
	want := "server.read_timeout server.max_inflight log.level activities[0] (sale): stock, shards, per_user"
	if got := strings.Join(settings, " "); got != want {
		t.Fatalf("not_applied = %q, want %q", got, want)
	}
	waitFor(t, func() bool {
		return strings.Contains(gw.out.String(), `"msg":"config reloaded; some changed settings were not applied`)
	})
	if c := status(t, base+"/v1"); c != 200 {
		t.Fatalf("the rest of the file was not applied: /v1 %d", c)
	}
	// The running sale kept its stock: 4 left of 5, not 50.
	_, body, _ := call(t, "GET", "http://"+admin+"/admin/activities/sale/stock", "Authorization", "Bearer "+reloadToken)
	if !strings.Contains(body, `"left":4`) {
		t.Fatalf("running sale changed by a reload: %s", body)
	}

	mustWrite(t, cfg, strings.Replace(good, "token: "+reloadToken, "token: short", 1)+
		"  - {path: /x, filters: [{nope: {}}], action: {type: static, page: nope}}\n")
	code, m = adminReload(t, admin)
	errs, _ := m["errors"].([]any)
	if code != 422 || m["error"] != "config_invalid" || len(errs) != 3 {
		t.Fatalf("bad file: %d %v", code, m)
	}
	for i, want := range []string{"admin.token: required", `routes[4].filters[0]: unknown filter type "nope"`, `routes[4].action.page: page "nope"`} {
		if e := errs[i].(string); !strings.HasPrefix(e, "flashgate.yaml: ") || !strings.Contains(e, want) {
			t.Errorf("errors[%d] = %q, want the file and %q", i, e, want)
		}
	}
	if c := status(t, base+"/v1"); c != 200 {
		t.Fatalf("old config lost: /v1 %d", c)
	}
}
