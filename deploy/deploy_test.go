package deploy

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v3"

	"github.com/flashgate/flashgate/conf"
	_ "github.com/flashgate/flashgate/filters" // the gateway's own loader knows every filter
	"github.com/flashgate/flashgate/gateway"
)

const token = "compose-test-token-0123456789"

func load(t *testing.T, env []string) (*types.Project, error) {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{"compose.yaml"},
		cli.WithWorkingDirectory("."), cli.WithEnv(env), cli.WithName("flashgate"))
	if err != nil {
		t.Fatal(err)
	}
	return opts.LoadProject(context.Background())
}

func service(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	s, ok := p.Services[name]
	if !ok {
		t.Fatalf("compose.yaml has no service %q", name)
	}
	return s
}

// mounted returns the host path bind-mounted at target in s.
func mounted(t *testing.T, s types.ServiceConfig, target string) string {
	t.Helper()
	for _, v := range s.Volumes {
		if v.Target == target {
			if v.Type != types.VolumeTypeBind || !v.ReadOnly {
				t.Errorf("%s: %s should be a read-only bind mount", s.Name, target)
			}
			return v.Source
		}
	}
	t.Fatalf("%s mounts nothing at %s", s.Name, target)
	return ""
}

func port(t *testing.T, hostport string) string {
	t.Helper()
	_, p, err := net.SplitHostPort(hostport)
	if err != nil {
		t.Fatalf("%q: %v", hostport, err)
	}
	return p
}

func exposes(s types.ServiceConfig, p string) bool { return slices.Contains([]string(s.Expose), p) }

// flag returns the value after name in a command line.
func flag(cmd []string, name string) string {
	for i := 0; i+1 < len(cmd); i++ {
		if cmd[i] == name {
			return cmd[i+1]
		}
	}
	return ""
}

// gatewayConfig lays a gateway service's mounts out as its container sees
// /etc/flashgate, then loads the config with the gateway's own loader and
// checks it as `flashgate check` does.
func gatewayConfig(t *testing.T, s types.ServiceConfig) *conf.Config {
	t.Helper()
	dir := t.TempDir()
	for _, v := range s.Volumes {
		if filepath.Dir(v.Target) != "/etc/flashgate" {
			t.Fatalf("%s: unexpected mount %s", s.Name, v.Target)
		}
		if err := os.CopyFS(filepath.Join(dir, filepath.Base(v.Target)), os.DirFS(v.Source)); err != nil {
			// Not a directory: a file mount.
			b, err := os.ReadFile(v.Source)
			if err != nil {
				t.Fatalf("%s: mount source: %v", s.Name, err)
			}
			if err := os.WriteFile(filepath.Join(dir, filepath.Base(v.Target)), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	mounted(t, s, "/etc/flashgate/flashgate.yaml")
	if s.Environment["FLASHGATE_ADMIN_TOKEN"] == nil || *s.Environment["FLASHGATE_ADMIN_TOKEN"] != token {
		t.Fatalf("%s: FLASHGATE_ADMIN_TOKEN is not passed through", s.Name)
	}
	t.Setenv("FLASHGATE_ADMIN_TOKEN", token)
	cfg, err := conf.Load(filepath.Join(dir, "flashgate.yaml"))
	if err != nil {
		t.Fatalf("%s: the mounted config does not load:\n%v", s.Name, err)
	}
	if err := gateway.Check(cfg); err != nil {
		t.Fatalf("%s: the mounted config does not check:\n%v", s.Name, err)
	}
	if cfg.Admin.Token != token {
		t.Fatalf("%s: admin.token %q does not come from the environment", s.Name, cfg.Admin.Token)
	}
	return cfg
}

// TestComposeMatchesGatewayConfig loads deploy/compose.yaml with
// compose-go and checks that every service agrees with the gateway config
// it mounts: ports, hosts, Redis nodes, the load balancer's servers,
// Prometheus's targets and Grafana's dashboard.
func TestComposeMatchesGatewayConfig(t *testing.T) {
	if _, err := load(t, nil); err == nil || !strings.Contains(err.Error(), "FLASHGATE_ADMIN_TOKEN") {
		t.Fatalf("compose.yaml loads without an admin token: %v", err)
	}
	p, err := load(t, []string{"FLASHGATE_ADMIN_TOKEN=" + token})
	if err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}

	// Both gateway instances and the warm job run one config.
	var cfgs []*conf.Config
	for _, name := range []string{"gateway-1", "gateway-2", "warm"} {
		cfgs = append(cfgs, gatewayConfig(t, service(t, p, name)))
	}
	cfg := cfgs[0]
	src := mounted(t, service(t, p, "gateway-1"), "/etc/flashgate/flashgate.yaml")
	for _, name := range []string{"gateway-2", "warm"} {
		if got := mounted(t, service(t, p, name), "/etc/flashgate/flashgate.yaml"); got != src {
			t.Errorf("%s mounts %s, gateway-1 %s", name, got, src)
		}
	}
	if cfg.Stock.Store != "redis" {
		t.Fatalf("stock.store %q: two instances need the Redis store", cfg.Stock.Store)
	}
	warm := service(t, p, "warm")
	if got := strings.Join(warm.Command, " "); got != "warm --config /etc/flashgate/flashgate.yaml" {
		t.Errorf("warm command %q", got)
	}
	if warm.DependsOn["redis-cluster-init"].Condition != types.ServiceConditionCompletedSuccessfully {
		t.Errorf("warm does not wait for the cluster to form")
	}

	listen, admin := port(t, cfg.Server.Listen), port(t, cfg.Admin.Listen)
	gateways := []string{"gateway-1", "gateway-2"}
	for _, name := range gateways {
		s := service(t, p, name)
		if !exposes(s, listen) || !exposes(s, admin) {
			t.Errorf("%s exposes %v, the config listens on %s and %s", name, s.Expose, listen, admin)
		}
		if s.HealthCheck == nil || strings.Join(s.HealthCheck.Test, " ") != "CMD /usr/local/bin/flashgate health --config /etc/flashgate/flashgate.yaml" {
			t.Errorf("%s health check %v", name, s.HealthCheck)
		}
		if s.DependsOn["warm"].Condition != types.ServiceConditionCompletedSuccessfully {
			t.Errorf("%s starts before the stock is warmed", name)
		}
		if len(s.Ports) != 0 {
			t.Errorf("%s publishes %v: only the load balancer faces users, the admin port stays private", name, s.Ports)
		}
	}

	// redis.addrs are the three cluster masters, on the ports they run.
	if len(cfg.Redis.Addrs) != 3 {
		t.Fatalf("redis.addrs %v: want the 3 masters", cfg.Redis.Addrs)
	}
	init := strings.Join(service(t, p, "redis-cluster-init").Command, " ")
	for _, a := range cfg.Redis.Addrs {
		host, prt, _ := net.SplitHostPort(a)
		s := service(t, p, host)
		if flag(s.Command, "--port") != prt || flag(s.Command, "--cluster-enabled") != "yes" || !exposes(s, prt) {
			t.Errorf("redis.addrs has %s; service %s runs %v exposing %v", a, host, s.Command, s.Expose)
		}
		// An evicted shard key is sold units or a ledger lost (README, What
		// Redis can lose): the masters must never evict.
		if flag(s.Command, "--maxmemory-policy") != "noeviction" {
			t.Errorf("service %s runs %v: want --maxmemory-policy noeviction", host, s.Command)
		}
		if !strings.Contains(init, "getent hosts "+host+" | cut -d' ' -f1):"+prt) {
			t.Errorf("redis-cluster-init does not join %s: %s", a, init)
		}
		if service(t, p, "redis-cluster-init").DependsOn[host].Condition != types.ServiceConditionHealthy {
			t.Errorf("redis-cluster-init does not wait for %s", host)
		}
	}

	// The upstream is the demo backend, on the port it listens on.
	be := service(t, p, "demo-backend")
	for _, u := range cfg.Upstreams {
		for _, a := range u.Addrs {
			host, prt, _ := net.SplitHostPort(a)
			if host != "demo-backend" || port(t, flag(be.Command, "-listen")) != prt || !exposes(be, prt) {
				t.Errorf("upstream %s addr %s; demo-backend runs %v exposing %v", u.Name, a, be.Command, be.Expose)
			}
		}
	}

	// nginx balances over exactly the two instances' public port.
	lb := service(t, p, "lb")
	nginx, err := os.ReadFile(mounted(t, lb, "/etc/nginx/nginx.conf"))
	if err != nil {
		t.Fatal(err)
	}
	var servers []string
	for _, m := range regexp.MustCompile(`(?m)^\s*server\s+([\w.-]+:\d+)`).FindAllStringSubmatch(string(nginx), -1) {
		servers = append(servers, m[1])
	}
	want := []string{"gateway-1:" + listen, "gateway-2:" + listen}
	if !slices.Equal(servers, want) {
		t.Errorf("nginx upstream servers %v, want %v", servers, want)
	}
	lbListen := regexp.MustCompile(`(?m)^\s*listen\s+(\d+);`).FindStringSubmatch(string(nginx))
	if len(lbListen) < 2 || len(lb.Ports) != 1 || strconv.Itoa(int(lb.Ports[0].Target)) != lbListen[1] {
		t.Errorf("lb publishes %v, nginx listens on %v", lb.Ports, lbListen)
	}
	// A purchase is never sent twice (nginx retries a sent POST only with
	// non_idempotent), and a gateway that is down is skipped, not sent
	// half the traffic.
	if regexp.MustCompile(`(?m)^\s*proxy_next_upstream[^;#]*non_idempotent`).Match(nginx) || strings.Contains(string(nginx), "max_fails=0") {
		t.Errorf("nginx retries sent purchases or never skips a dead gateway:\n%s", nginx)
	}
	if !strings.Contains(string(nginx), "X-Real-IP") || cfg.Server.RealIPHeader != "X-Real-IP" {
		t.Errorf("nginx and server.real_ip_header (%q) disagree on the client address header", cfg.Server.RealIPHeader)
	}

	// Prometheus scrapes exactly the two instances' admin port.
	var prom struct {
		ScrapeConfigs []struct {
			MetricsPath   string `yaml:"metrics_path"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	promSvc := service(t, p, "prometheus")
	readYAML(t, mounted(t, promSvc, "/etc/prometheus/prometheus.yml"), &prom)
	var targets []string
	for _, sc := range prom.ScrapeConfigs {
		if sc.MetricsPath != "/metrics" {
			t.Errorf("metrics_path %q", sc.MetricsPath)
		}
		for _, st := range sc.StaticConfigs {
			targets = append(targets, st.Targets...)
		}
	}
	if want := []string{"gateway-1:" + admin, "gateway-2:" + admin}; !slices.Equal(targets, want) {
		t.Errorf("prometheus targets %v, want %v", targets, want)
	}

	// Grafana gets the Prometheus data source and the dashboard, where
	// its provider looks.
	gf := service(t, p, "grafana")
	var ds struct {
		Datasources []struct {
			UID string `yaml:"uid"`
			URL string `yaml:"url"`
		} `yaml:"datasources"`
	}
	readYAML(t, filepath.Join(mounted(t, gf, "/etc/grafana/provisioning/datasources"), "prometheus.yaml"), &ds)
	if len(ds.Datasources) != 1 || ds.Datasources[0].URL != "http://prometheus:9090" || len(promSvc.Ports) != 1 || promSvc.Ports[0].Target != 9090 {
		t.Errorf("grafana data source %+v, prometheus ports %v", ds.Datasources, promSvc.Ports)
	}
	var prov struct {
		Providers []struct {
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	readYAML(t, filepath.Join(mounted(t, gf, "/etc/grafana/provisioning/dashboards"), "flashgate.yaml"), &prov)
	if len(prov.Providers) != 1 {
		t.Fatalf("dashboard providers %+v", prov.Providers)
	}
	dash := mounted(t, gf, prov.Providers[0].Options.Path+"/flashgate.json")
	var d struct {
		UID    string `json:"uid"`
		Panels []struct {
			Type       string `json:"type"`
			Datasource struct {
				UID string `json:"uid"`
			} `json:"datasource"`
		} `json:"panels"`
	}
	b, err := os.ReadFile(dash)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &d); err != nil || d.UID != "flashgate" || len(d.Panels) == 0 {
		t.Fatalf("dashboard %s: uid %q, %d panels, %v", dash, d.UID, len(d.Panels), err)
	}
	for _, pn := range d.Panels {
		if pn.Type != "row" && pn.Datasource.UID != ds.Datasources[0].UID {
			t.Errorf("a panel uses data source %q, provisioned is %q", pn.Datasource.UID, ds.Datasources[0].UID)
		}
	}
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
