package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// wrkResult is one wrk run, as bench/report.lua prints it.
type wrkResult struct {
	Requests   int64 `json:"requests"`
	DurationUs int64 `json:"duration_us"`
	Errors     int64 `json:"errors"`
	Non2xx     int64 `json:"non2xx"`
	P50Us      int64 `json:"p50_us"`
	P99Us      int64 `json:"p99_us"`
	P999Us     int64 `json:"p999_us"`
	MaxUs      int64 `json:"max_us"`
	Exhausted  int   `json:"exhausted_threads"`
	// CPU is what wrk itself used (user + system, from its rusage): on a
	// shared box the load generator's share of the cores is part of the
	// budget every figure is measured in.
	CPU time.Duration `json:"-"`
}

func (w wrkResult) rps() float64 {
	if w.DurationUs == 0 {
		return 0
	}
	return float64(w.Requests) / (float64(w.DurationUs) / 1e6)
}

// runWrk runs bench/<script> (with report.lua appended) against base for
// d, with env passed to the script through os.getenv.
func (h *harness) runWrk(script, base string, d time.Duration, env map[string]string) (wrkResult, error) {
	src, err := os.ReadFile(filepath.Join(h.benchDir, script))
	if err != nil {
		return wrkResult{}, err
	}
	rep, err := os.ReadFile(filepath.Join(h.benchDir, "report.lua"))
	if err != nil {
		return wrkResult{}, err
	}
	full := filepath.Join(h.tmp, "wrk-"+script)
	if err := os.WriteFile(full, append(append(src, '\n'), rep...), 0o644); err != nil {
		return wrkResult{}, err
	}
	args := []string{"-t" + strconv.Itoa(h.threads), "-c" + strconv.Itoa(h.conns),
		"-d" + strconv.Itoa(int(d/time.Second)) + "s", "--timeout", "5s", "-s", full, base}
	cmd := exec.Command("wrk", args...)
	cmd.Env = append(os.Environ(), "FG_THREADS="+strconv.Itoa(h.threads))
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return wrkResult{}, fmt.Errorf("wrk %s: %v: %s%s", script, err, out.String(), errb.String())
	}
	for _, line := range strings.Split(out.String(), "\n") {
		if rest, ok := strings.CutPrefix(line, "FGJSON "); ok {
			var r wrkResult
			if err := json.Unmarshal([]byte(rest), &r); err != nil {
				return r, fmt.Errorf("wrk %s: %v in %q", script, err, rest)
			}
			r.CPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
			return r, nil
		}
	}
	return wrkResult{}, fmt.Errorf("wrk %s printed no result: %s%s", script, out.String(), errb.String())
}
