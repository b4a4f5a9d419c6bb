package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// sample is one measurement of one server in one round.
type sample struct {
	Scenario    string           `json:"scenario"`
	Server      string           `json:"server"`
	Round       int              `json:"round"`
	RPS         float64          `json:"rps"`
	Requests    int64            `json:"requests"`
	P50Us       int64            `json:"p50_us"`
	P99Us       int64            `json:"p99_us"`
	P999Us      int64            `json:"p999_us"`
	ServerCPUUs float64          `json:"server_cpu_us_per_req"`
	RedisCPUUs  float64          `json:"redis_cpu_us_per_req"`
	WrkCPUUs    float64          `json:"wrk_cpu_us_per_req"`
	BackendCPU  float64          `json:"backend_cpu_us_per_req,omitempty"`
	Errors      int64            `json:"socket_errors"`
	Non2xx      int64            `json:"non2xx"`
	Reasons     map[string]int64 `json:"non2xx_by_reason,omitempty"`
	Admitted    int64            `json:"admitted"`
	Orders      int64            `json:"orders,omitempty"`
	RepeatUsers int64            `json:"repeat_users,omitempty"`
	Exhausted   bool             `json:"users_exhausted,omitempty"`
	Check       string           `json:"check,omitempty"`
}

// results is everything bench.json holds.
type results struct {
	Machine     string          `json:"machine"`
	Command     string          `json:"command"`
	Started     time.Time       `json:"started"`
	Finished    time.Time       `json:"finished"`
	Duration    string          `json:"duration_per_run"`
	Rounds      int             `json:"rounds"`
	Threads     int             `json:"wrk_threads"`
	Conns       int             `json:"wrk_conns"`
	PageBytes   int             `json:"page_bytes"`
	PageGzBytes int             `json:"page_gzip_bytes"`
	Samples     []sample        `json:"samples"`
	Scripts     []scriptSample  `json:"redis_scripts"`
	Spikes      []spikeResult   `json:"flash_sales"`
	Shavings    []shavingResult `json:"peak_shaving,omitempty"`
	Summary     []row           `json:"summary"`
}

func (h *harness) add(name string, round int, s sample) {
	s.Scenario, s.Round = name, round
	h.res.Samples = append(h.res.Samples, s)
}

// row is one line of the table: medians over rounds.
type row struct {
	Scenario, Server string
	RPS              float64
	P50, P99, P999   float64 // ms
	ServerCPU, Redis float64 // µs per request
	Wrk, Backend     float64 // µs per request: the load generator's and the order backend's
	Anchor           string
	Ratio            float64 // median of the per-round ratios to the anchor
	P99Ratio         float64 // p99 / anchor's p99 (pages only)
	Reasons          string  // summed over rounds
	Check            string
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// find returns the sample of scenario/server in round.
func (h *harness) find(scenario, server string, round int) *sample {
	for i := range h.res.Samples {
		s := &h.res.Samples[i]
		if s.Scenario == scenario && s.Server == server && s.Round == round {
			return s
		}
	}
	return nil
}

// anchorOf is what a scenario's figure is divided by, in the same round:
// nginx for the pages (the target: at least 1.0), flashgate's own plain
// page for sold-out answers (at least 0.9), nginx's plain page for the
// rest (purchase chain: at least 0.45 local, 0.33 proxied).
func anchorOf(scenario, server string) (string, string) {
	switch {
	case server == "nginx":
		return "", ""
	case scenario == "page_plain" || scenario == "page_gzip":
		return scenario, "nginx" // variants too
	case scenario == "soldout":
		return "page_plain", "flashgate"
	}
	return "page_plain", "nginx"
}

func (h *harness) summarize() []row {
	var rows []row
	seen := map[string]bool{}
	for _, s := range h.res.Samples {
		key := s.Scenario + "/" + s.Server
		if seen[key] {
			continue
		}
		seen[key] = true
		var rps, p50, p99, p999, cpu, redis, wrkc, backend, ratio, p99r []float64
		sum := map[string]int64{}
		r := row{Scenario: s.Scenario, Server: s.Server}
		as, asrv := anchorOf(s.Scenario, s.Server)
		if as != "" {
			r.Anchor = asrv + " " + as
		}
		var checks []string
		for _, t := range h.res.Samples {
			if t.Scenario != s.Scenario || t.Server != s.Server {
				continue
			}
			rps = append(rps, t.RPS)
			p50 = append(p50, float64(t.P50Us)/1000)
			p99 = append(p99, float64(t.P99Us)/1000)
			p999 = append(p999, float64(t.P999Us)/1000)
			cpu = append(cpu, t.ServerCPUUs)
			redis = append(redis, t.RedisCPUUs)
			wrkc = append(wrkc, t.WrkCPUUs)
			if t.BackendCPU > 0 {
				backend = append(backend, t.BackendCPU)
			}
			for k, v := range t.Reasons {
				sum[k] += v
			}
			if t.Check != "" && (len(checks) == 0 || strings.HasPrefix(t.Check, "FAIL")) {
				checks = append(checks, t.Check)
			}
			if t.Exhausted {
				checks = append(checks, fmt.Sprintf("round %d ran out of minted users (raise -storm-rate)", t.Round))
			}
			if a := h.find(as, asrv, t.Round); a != nil && a.RPS > 0 {
				ratio = append(ratio, t.RPS/a.RPS)
				if a.P99Us > 0 {
					p99r = append(p99r, float64(t.P99Us)/float64(a.P99Us))
				}
			}
		}
		r.RPS, r.P50, r.P99, r.P999 = median(rps), median(p50), median(p99), median(p999)
		r.ServerCPU, r.Redis, r.Ratio = median(cpu), median(redis), median(ratio)
		r.Wrk, r.Backend = median(wrkc), median(backend)
		if s.Scenario == "page_plain" || s.Scenario == "page_gzip" {
			r.P99Ratio = median(p99r)
		}
		r.Reasons = formatReasons(sum)
		r.Check = strings.Join(checks, "; ")
		rows = append(rows, r)
	}
	return rows
}

func (h *harness) printTable(w io.Writer) {
	h.res.Summary = h.summarize()
	defer h.printShaving(w)
	defer h.printSpikes(w)
	defer h.printScripts(w)
	fmt.Fprintf(w, "\nflashgate bench: %s\n%s; wrk -t%d -c%d, %s per run, %d interleaved rounds, medians\n\n",
		h.res.Command, h.res.Machine, h.threads, h.conns, h.duration, h.rounds)
	if len(h.res.Summary) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tserver\treq/s\tp50 ms\tp99 ms\tp99.9 ms\tCPU µs/req\tRedis µs/req\twrk µs/req\t× anchor\tanchor\tnon-2xx by reason (all rounds)\tcheck")
	for _, r := range h.res.Summary {
		ratio := "-"
		if r.Anchor != "" && r.Ratio > 0 {
			ratio = fmt.Sprintf("%.2f", r.Ratio)
			if r.P99Ratio > 0 {
				ratio += fmt.Sprintf(" (p99 %.2f)", r.P99Ratio)
			}
		}
		check := r.Check
		if r.Backend > 0 {
			check += fmt.Sprintf("; backend %.1f µs/order", r.Backend)
		}
		fmt.Fprintf(tw, "%s\t%s\t%.0f\t%.2f\t%.2f\t%.2f\t%.1f\t%.1f\t%.1f\t%s\t%s\t%s\t%s\n", r.Scenario, r.Server, r.RPS, r.P50, r.P99, r.P999,
			r.ServerCPU, r.Redis, r.Wrk, ratio, dash(r.Anchor), r.Reasons, dash(check))
	}
	tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// write saves bench.json and bench.svg in h.out.
func (h *harness) write() error {
	dir := h.out
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(h.root, dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	js, err := json.MarshalIndent(h.res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "bench.json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "bench.svg"), chart(h.res), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "results in %s/bench.json and bench.svg\n", h.out)
	return nil
}
