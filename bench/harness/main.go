// Command harness is `make bench`: it starts redis-server, the demo order
// backend, flashgate gateways on bench/bench.yaml and nginx, runs every
// scenario bounded in time with the rounds interleaved (so that drift on a
// shared machine hits every server alike), and prints one table with each
// flashgate figure as a ratio to its anchor measured in the same round.
// Results go to bench/results/bench.json and bench/results/bench.svg.
//
//	go run ./bench/harness -duration 10s -rounds 3
//
// Everything listens on 127.0.0.1 and every process it starts is stopped
// by its pid on exit.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/flashgate/flashgate/filters/token"
)

type harness struct {
	root, benchDir, tmp, out string
	flashgate, demoBackend   string

	duration             time.Duration
	rounds               int
	threads, conns       int
	only                 map[string]bool
	spikeUsers           int
	spikeConns           int
	stormRate, soldUsers int
	shaveRate            int
	shaveDuration        time.Duration
	shave                *shaving

	redisPort   int
	redis       *proc
	backendAddr string
	nginx       *proc
	nginxAddr   string
	blacklist   string
	procs       []*proc
	backend     *proc // the demo order backend, for its CPU per order
	mint        *token.Minter
	main        *gw
	variants    []variant
	pageBytes   int
	pageGzBytes int

	res results
}

func main() {
	h := &harness{}
	flag.DurationVar(&h.duration, "duration", 10*time.Second, "length of each wrk run (whole seconds)")
	flag.IntVar(&h.rounds, "rounds", 3, "interleaved rounds; the table shows medians")
	flag.IntVar(&h.threads, "threads", 2, "wrk threads")
	flag.IntVar(&h.conns, "conns", 128, "wrk connections")
	only := flag.String("only", "", "comma-separated scenarios to run (default all but the opt-in ones, marked *): "+strings.Join(scenarioNames(), ","))
	flag.IntVar(&h.spikeUsers, "spike-users", 300000, "distinct users of the flash-sale spike")
	flag.IntVar(&h.spikeConns, "spike-conns", 256, "buyer connections of the spike, over both gateways")
	flag.IntVar(&h.stormRate, "storm-rate", 50000, "users minted per second of a purchase storm (a storm that runs out is flagged)")
	flag.IntVar(&h.soldUsers, "soldout-users", 200000, "users replayed by the sold-out scenario")
	flag.IntVar(&h.shaveRate, "shaving-rate", 1000, "purchases per second (distinct users, open loop) offered in each mode of the shaving scenario")
	flag.DurationVar(&h.shaveDuration, "shaving-duration", 10*time.Second, "length of each mode's load in the shaving scenario (whole seconds)")
	flag.Func("variant", "NAME:KEY=VALUE[,KEY=VALUE]: also serve the page scenarios from a gateway with these server.* settings (env.NAME=VALUE: an environment variable of the gateway process), for an A/B in the same run (repeatable), e.g. wb4k:write_buffer_size=4096 or p1:env.GOMAXPROCS=1", func(s string) error {
		v, err := parseVariant(s)
		h.variants = append(h.variants, v)
		return err
	})
	flag.StringVar(&h.out, "out", "bench/results", "directory for bench.json and bench.svg")
	flag.Parse()
	if *only != "" {
		h.only = map[string]bool{}
		for _, s := range strings.Split(*only, ",") {
			h.only[strings.TrimSpace(s)] = true
		}
	}
	closeInherited()
	signal.Ignore(syscall.SIGPIPE) // a closed pipe on stdout must not skip the clean-up
	code := 0
	if err := h.run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		code = 1
	}
	h.stopAll()
	os.Exit(code)
}

func (h *harness) stopAll() {
	for i := len(h.procs) - 1; i >= 0; i-- {
		h.procs[i].stop()
	}
	h.procs = nil
	if h.tmp != "" && os.Getenv("BENCH_KEEP") == "" {
		os.RemoveAll(h.tmp)
	}
}

func (h *harness) run() error {
	var err error
	if h.root, err = os.Getwd(); err != nil {
		return err
	}
	h.benchDir = filepath.Join(h.root, "bench")
	if _, err := os.Stat(filepath.Join(h.benchDir, "bench.yaml")); err != nil {
		return fmt.Errorf("run from the repository root: %w", err)
	}
	for _, tool := range []string{"wrk", "nginx", "redis-server", "redis-cli", "redis-benchmark"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s is missing (scripts/ensure-bench-tools.sh installs it)", tool)
		}
	}
	h.flashgate = filepath.Join(h.root, "bin/flashgate")
	h.demoBackend = filepath.Join(h.root, "bin/demo-backend")
	for _, b := range []string{h.flashgate, h.demoBackend} {
		if _, err := os.Stat(b); err != nil {
			return fmt.Errorf("%s is missing: run make build", b)
		}
	}
	if h.tmp, err = os.MkdirTemp("", "flashgate-bench-"); err != nil {
		return err
	}
	if err := os.Chmod(h.tmp, 0o755); err != nil { // nginx workers read the pages as another user
		return err
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() { <-sigs; h.stopAll(); os.Exit(130) }()

	if err := h.writeBlacklist(); err != nil {
		return err
	}
	if err := h.startRedis(); err != nil {
		return err
	}
	if err := h.startBackend(); err != nil {
		return err
	}
	// The main gateway's sale never opens: its status JSON is a countdown.
	if h.main, err = h.startGateway("flashgate", "", time.Now().Add(time.Hour), nil, nil); err != nil {
		return err
	}
	for i := range h.variants {
		v := &h.variants[i]
		if v.g, err = h.startGateway("flashgate-"+v.name, "-", time.Now().Add(time.Hour), v.server, v.env); err != nil {
			return err
		}
	}
	if h.mint, err = h.minter(h.main.cfg); err != nil {
		return err
	}
	if err := h.startNginx(h.main); err != nil {
		return err
	}
	h.res = results{
		Machine: machine(), Command: strings.Join(os.Args, " "), Started: time.Now().UTC(),
		Duration: h.duration.String(), Rounds: h.rounds, Threads: h.threads, Conns: h.conns,
		PageBytes: h.pageBytes, PageGzBytes: h.pageGzBytes,
	}
	for round := 1; round <= h.rounds; round++ {
		fmt.Fprintf(os.Stderr, "== round %d/%d\n", round, h.rounds)
		for _, sc := range scenarios {
			if (h.only == nil && optIn[sc.name]) || (h.only != nil && !h.only[sc.name]) {
				continue
			}
			fmt.Fprintf(os.Stderr, "   %s\n", sc.name)
			if err := sc.run(h, sc.name, round); err != nil {
				return fmt.Errorf("%s round %d: %w", sc.name, round, err)
			}
		}
	}
	h.res.Finished = time.Now().UTC()
	h.printTable(os.Stdout)
	return h.write()
}

// variant is a second gateway with other listener settings.
type variant struct {
	name   string
	server map[string]any
	env    []string // env.NAME=VALUE keys: the gateway process's environment (GOMAXPROCS, GOGC)
	g      *gw
}

func parseVariant(s string) (variant, error) {
	name, kvs, ok := strings.Cut(s, ":")
	v := variant{name: name, server: map[string]any{}}
	if !ok || name == "" {
		return v, fmt.Errorf("want NAME:KEY=VALUE, got %q", s)
	}
	for _, kv := range strings.Split(kvs, ",") {
		k, val, ok := strings.Cut(kv, "=")
		if !ok {
			return v, fmt.Errorf("want KEY=VALUE, got %q", kv)
		}
		if name, ok := strings.CutPrefix(k, "env."); ok {
			v.env = append(v.env, name+"="+val)
			continue
		}
		var parsed any
		if err := yaml.Unmarshal([]byte(val), &parsed); err != nil {
			return v, err
		}
		v.server[strings.TrimPrefix(k, "server.")] = parsed
	}
	return v, nil
}

// machine describes where the figures come from.
func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		fmt.Sscanf(strings.SplitN(string(b), "\n", 2)[0], "MemTotal: %d kB", &kb)
		mem = fmt.Sprintf(", %d GiB", (kb+(1<<19))>>20)
	}
	ver := func(name string, args ...string) string {
		out, _ := exec.Command(name, args...).CombinedOutput()
		line := strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
		line, _, _ = strings.Cut(line, " [") // wrk's "[epoll] Copyright ..."
		line, _, _ = strings.Cut(line, " sha=")
		return strings.TrimPrefix(line, "nginx version: ")
	}
	return fmt.Sprintf("%d cores (%s)%s, %s, %s, %s, %s", runtime.NumCPU(), model, mem, runtime.Version(),
		ver("nginx", "-v"), ver("redis-server", "--version"), ver("wrk", "-v"))
}
