package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
	"go.yaml.in/yaml/v3"
)

// gw is one running gateway.
type gw struct {
	addr, admin string
	cfg         string
	p           *proc
}

// adminToken authenticates nothing the harness needs (/metrics is open);
// the config requires one with admin.listen.
const adminToken = "bench-admin-token-0123456789"

// writeConfig writes a copy of bench/bench.yaml for one gateway: its
// ports, the harness's Redis, backend and blacklist, the Redis store, and
// the sale's start.
// edit, if not nil, changes the document last.
func (h *harness) writeConfig(name string, port, adminPort int, saleStart time.Time, server map[string]any, edit func(map[string]any)) (string, error) {
	src, err := os.ReadFile(filepath.Join(h.benchDir, "bench.yaml"))
	if err != nil {
		return "", err
	}
	var doc map[string]any
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return "", err
	}
	doc["server"].(map[string]any)["listen"] = "127.0.0.1:" + strconv.Itoa(port)
	for k, v := range server {
		doc["server"].(map[string]any)[k] = v
	}
	doc["admin"] = map[string]any{"listen": "127.0.0.1:" + strconv.Itoa(adminPort), "token": adminToken}
	doc["static"].(map[string]any)["catalogue"] = filepath.Join(h.root, "conf/demo-catalogue.yaml")
	doc["redis"].(map[string]any)["addrs"] = []string{"127.0.0.1:" + strconv.Itoa(h.redisPort)}
	doc["stock"] = map[string]any{"store": "redis"}
	doc["upstreams"].([]any)[0].(map[string]any)["addrs"] = []string{h.backendAddr}
	for _, a := range doc["activities"].([]any) {
		if m := a.(map[string]any); m["id"] == "sale" {
			m["start"] = saleStart.UTC().Format(time.RFC3339Nano)
		}
	}
	for _, r := range doc["routes"].([]any) {
		for _, f := range asList(r.(map[string]any)["filters"]) {
			if bl, ok := f.(map[string]any)["blacklist"].(map[string]any); ok {
				bl["file"] = h.blacklist
			}
		}
	}
	if edit != nil {
		edit(doc)
	}
	out, err := yaml.Marshal(doc)
	if err != nil {
		return "", err
	}
	path := filepath.Join(h.tmp, name+".yaml")
	return path, os.WriteFile(path, out, 0o644)
}

func asList(v any) []any { l, _ := v.([]any); return l }

// startGateway warms activity (all when "") and starts a gateway.
// env is added to the gateway's environment.
func (h *harness) startGateway(name, warm string, saleStart time.Time, server map[string]any, env []string) (*gw, error) {
	return h.startGatewayEdit(name, warm, saleStart, server, env, nil)
}

// startGatewayEdit is startGateway on a config that edit changed.
func (h *harness) startGatewayEdit(name, warm string, saleStart time.Time, server map[string]any, env []string, edit func(map[string]any)) (*gw, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	adminPort, err := freePort()
	if err != nil {
		return nil, err
	}
	cfg, err := h.writeConfig(name, port, adminPort, saleStart, server, edit)
	if err != nil {
		return nil, err
	}
	if warm != "-" {
		// Every round starts from full stock: a forced warm of each
		// activity (flashgate warm --force takes one --activity at a time).
		ids := []string{warm}
		if warm == "" {
			if ids, err = activityIDs(cfg); err != nil {
				return nil, err
			}
		}
		for _, id := range ids {
			out, err := exec.Command(h.flashgate, "warm", "--config", cfg, "--activity", id, "--force").CombinedOutput()
			if err != nil {
				return nil, fmt.Errorf("flashgate warm --activity %s: %v: %s", id, err, out)
			}
		}
	}
	p, err := start(h.tmp, name, env, h.flashgate, "serve", "--config", cfg)
	if err != nil {
		return nil, err
	}
	g := &gw{addr: "127.0.0.1:" + strconv.Itoa(port), admin: "127.0.0.1:" + strconv.Itoa(adminPort), cfg: cfg, p: p}
	h.procs = append(h.procs, p)
	return g, waitHTTP("http://"+g.addr+"/healthz", p)
}

// startRedis starts a private redis-server without persistence.
func (h *harness) startRedis() error {
	port, err := freePort()
	if err != nil {
		return err
	}
	h.redisPort = port
	p, err := start(h.tmp, "redis", nil, "redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", h.tmp)
	if err != nil {
		return err
	}
	h.redis = p
	h.procs = append(h.procs, p)
	for i := 0; i < 100; i++ {
		if out, err := h.redisCLI("PING"); err == nil && strings.TrimSpace(out) == "PONG" {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("redis-server did not start: %s", p.tail())
}

func (h *harness) redisCLI(args ...string) (string, error) {
	out, err := exec.Command("redis-cli", append([]string{"-p", strconv.Itoa(h.redisPort)}, args...)...).CombinedOutput()
	return string(out), err
}

// startBackend starts the demo order backend.
func (h *harness) startBackend() error {
	port, err := freePort()
	if err != nil {
		return err
	}
	h.backendAddr = "127.0.0.1:" + strconv.Itoa(port)
	p, err := start(h.tmp, "backend", nil, h.demoBackend, "-listen", h.backendAddr)
	if err != nil {
		return err
	}
	h.procs = append(h.procs, p)
	h.backend = p
	return waitHTTP("http://"+h.backendAddr+"/healthz", p)
}

// startNginx serves the gateway's own product page bytes, plain and gzip,
// from disk, configured as a shop would tune it for static pages.
func (h *harness) startNginx(g *gw) error {
	www := filepath.Join(h.tmp, "www", "p")
	if err := os.MkdirAll(www, 0o755); err != nil {
		return err
	}
	for _, v := range []struct{ file, enc string }{{"phone-x", ""}, {"phone-x.gz", "gzip"}} {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		req.SetRequestURI("http://" + g.addr + "/p/phone-x")
		if v.enc != "" {
			req.Header.Set("Accept-Encoding", v.enc)
		}
		err := fasthttp.DoTimeout(req, resp, 5*time.Second)
		if err == nil && (resp.StatusCode() != 200 || string(resp.Header.ContentEncoding()) != v.enc) {
			err = fmt.Errorf("status %d, encoding %q", resp.StatusCode(), resp.Header.ContentEncoding())
		}
		if err == nil {
			err = os.WriteFile(filepath.Join(www, v.file), resp.Body(), 0o644)
		}
		if v.enc == "" {
			h.pageBytes = len(resp.Body())
		} else {
			h.pageGzBytes = len(resp.Body())
		}
		fasthttp.ReleaseRequest(req)
		fasthttp.ReleaseResponse(resp)
		if err != nil {
			return fmt.Errorf("page bytes for nginx: %w", err)
		}
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	h.nginxAddr = "127.0.0.1:" + strconv.Itoa(port)
	conf := fmt.Sprintf(`# Written by bench/harness: nginx tuned for static pages.
worker_processes auto;
daemon off;
pid %[1]s/nginx.pid;
error_log %[1]s/nginx-error.log warn;
events { worker_connections 8192; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    open_file_cache max=1000 inactive=60s;
    open_file_cache_valid 60s;
    gzip_static on;
    keepalive_requests 1000000;   # fasthttp has no such cap; nginx's default 1000 would reconnect
    default_type "text/html; charset=utf-8";
    client_body_temp_path %[1]s/nginx-body;
    proxy_temp_path %[1]s/nginx-proxy;
    fastcgi_temp_path %[1]s/nginx-fastcgi;
    uwsgi_temp_path %[1]s/nginx-uwsgi;
    scgi_temp_path %[1]s/nginx-scgi;
    server {
        listen %[2]s;
        root %[1]s/www;
        location /p/ { add_header Vary Accept-Encoding; add_header Cache-Control "public, max-age=60"; }
    }
}
`, h.tmp, h.nginxAddr)
	path := filepath.Join(h.tmp, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		return err
	}
	p, err := start(h.tmp, "nginx", nil, "nginx", "-c", path, "-p", h.tmp)
	if err != nil {
		return err
	}
	h.nginx = p
	h.procs = append(h.procs, p)
	return waitHTTP("http://"+h.nginxAddr+"/p/phone-x", p)
}

// activityIDs are the activities of the config file at path.
func activityIDs(path string) ([]string, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Activities []struct {
			ID string `yaml:"id"`
		} `yaml:"activities"`
	}
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(doc.Activities))
	for _, a := range doc.Activities {
		ids = append(ids, a.ID)
	}
	return ids, nil
}
