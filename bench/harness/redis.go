package main

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/internal/redisconn"
	"github.com/flashgate/flashgate/stock"
)

// naiveSrc is the reference a hand-written gate would use: one set of
// buyers, one counter, four commands, no shards, no ledger for
// give-back or reconciliation.
const naiveSrc = `if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return 2 end
local left = tonumber(redis.call('GET', KEYS[2]) or '0')
if left <= 0 then return 4 end
redis.call('DECRBY', KEYS[2], 1)
redis.call('SADD', KEYS[1], ARGV[1])
return 1`

// redisScript is one script redis-benchmark runs on the bench Redis.
// args returns the command after redis-benchmark's own flags, with
// "__rand_int__" where a distinct user goes, so every call is a new
// buyer's admitted decision. ratioTo names the script it is divided by.
type redisScript struct {
	name    string
	ratioTo string
	args    func(h *harness) ([]string, error)
}

// redisScripts run in this order each round. A new stock script (the
// async take that appends to a stream, say) is one more entry: its
// command line, and the script it must be compared with.
var redisScripts = []redisScript{
	{name: "naive (SISMEMBER, GET, DECRBY, SADD)", args: naiveArgs},
	{name: "take.lua (sync)", ratioTo: "naive (SISMEMBER, GET, DECRBY, SADD)", args: takeArgs},
	{name: "take.lua (async, 256-byte order)", ratioTo: "take.lua (sync)", args: takeAsyncArgs},
}

type scriptSample struct {
	Name        string  `json:"name"`
	Round       int     `json:"round"`
	RPS         float64 `json:"rps"`
	Calls       int64   `json:"calls"`
	UsecPerCall float64 `json:"usec_per_call"`
	RatioTo     string  `json:"ratio_to,omitempty"`
	Command     string  `json:"command"`
}

func naiveArgs(h *harness) ([]string, error) {
	if out, err := h.redisCLI("SET", "naive:{bench}:stock", "1000000000000"); err != nil {
		return nil, fmt.Errorf("%v: %s", err, out)
	}
	if out, err := h.redisCLI("SCRIPT", "LOAD", naiveSrc); err != nil {
		return nil, fmt.Errorf("%v: %s", err, out)
	}
	sum := sha1.Sum([]byte(naiveSrc))
	return []string{"EVALSHA", hex.EncodeToString(sum[:]), "2", "naive:{bench}:buyers", "naive:{bench}:stock", "u__rand_int__"}, nil
}

// takeArgs is take.lua exactly as the gateway sends it for activity big
// (stock.RedisStore.TakeCommand), in sync mode: no order appended.
func takeArgs(h *harness) ([]string, error) { return takeCommand(h, "") }

// takeAsyncArgs is the same call in async mode: the script also appends a
// 256-byte order to the shard's Stream.
func takeAsyncArgs(h *harness) ([]string, error) { return takeCommand(h, strings.Repeat("o", 256)) }

func takeCommand(h *harness, order string) ([]string, error) {
	cfg, err := conf.Load(h.main.cfg)
	if err != nil {
		return nil, err
	}
	rc, err := redisconn.Open(cfg.Redis)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rc.Do(ctx, rc.B().ScriptLoad().Script(stock.TakeScript()).Build()).Error(); err != nil {
		return nil, err
	}
	st, err := stock.NewRedis(stock.RedisOptions{Client: rc, Prefix: cfg.Redis.Prefix, Timeout: 5 * time.Second})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	return st.(*stock.RedisStore).TakeCommand(ctx, "big", 0, order)
}

// runRedisScripts runs each script with redis-benchmark (-P 16, the
// pipelining a busy gateway reaches) and reads Redis's own CPU per call
// from INFO commandstats.
func runRedisScripts(h *harness, _ string, round int) error {
	n := int(h.duration/time.Second) * 30000
	for _, sc := range redisScripts {
		args, err := sc.args(h)
		if err != nil {
			return fmt.Errorf("%s: %w", sc.name, err)
		}
		if out, err := h.redisCLI("CONFIG", "RESETSTAT"); err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		full := append([]string{"-p", strconv.Itoa(h.redisPort), "-c", "64", "-n", strconv.Itoa(n), "-P", "16",
			"-r", "100000000", "-q"}, args...)
		out, err := exec.Command("redis-benchmark", full...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("redis-benchmark %s: %v: %s", sc.name, err, out)
		}
		s := scriptSample{Name: sc.name, Round: round, RatioTo: sc.ratioTo, Command: "redis-benchmark " + strings.Join(full, " ")}
		s.RPS = parseRPS(string(out))
		stats, err := h.redisCLI("INFO", "commandstats")
		if err != nil {
			return err
		}
		s.Calls, s.UsecPerCall = commandStat(stats, "evalsha")
		if s.Calls == 0 || s.RPS == 0 {
			return fmt.Errorf("%s: no calls measured: %s", sc.name, out)
		}
		h.res.Scripts = append(h.res.Scripts, s)
	}
	return nil
}

// parseRPS reads "...: 62709.38 requests per second" from redis-benchmark -q.
func parseRPS(out string) float64 {
	out = strings.ReplaceAll(out, "\r", "\n")
	var rps float64
	for _, l := range strings.Split(out, "\n") {
		if i := strings.Index(l, " requests per second"); i > 0 {
			f := strings.Fields(l[:i])
			if v, err := strconv.ParseFloat(f[len(f)-1], 64); err == nil {
				rps = v
			}
		}
	}
	return rps
}

// commandStat reads calls and usec_per_call of cmd from INFO commandstats.
func commandStat(info, cmd string) (int64, float64) {
	for _, l := range strings.Split(info, "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(l), "cmdstat_"+cmd+":")
		if !ok {
			continue
		}
		var calls int64
		var per float64
		for _, kv := range strings.Split(rest, ",") {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "calls":
				calls, _ = strconv.ParseInt(v, 10, 64)
			case "usec_per_call":
				per, _ = strconv.ParseFloat(v, 64)
			}
		}
		return calls, per
	}
	return 0, 0
}

func (h *harness) printScripts(w io.Writer) {
	if len(h.res.Scripts) == 0 {
		return
	}
	fmt.Fprintf(w, "\nstock scripts, redis-benchmark -c 64 -P 16, Redis CPU per call from INFO commandstats (medians)\n")
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "script\tcalls/s\tusec_per_call\t× anchor\tanchor")
	done := map[string]bool{}
	for _, s := range h.res.Scripts {
		if done[s.Name] {
			continue
		}
		done[s.Name] = true
		var rps, per, ratio []float64
		for _, t := range h.res.Scripts {
			if t.Name != s.Name {
				continue
			}
			rps, per = append(rps, t.RPS), append(per, t.UsecPerCall)
			for _, a := range h.res.Scripts {
				if a.Name == s.RatioTo && a.Round == t.Round && a.UsecPerCall > 0 {
					ratio = append(ratio, t.UsecPerCall/a.UsecPerCall)
				}
			}
		}
		r := "-"
		if s.RatioTo != "" {
			r = fmt.Sprintf("%.2f", median(ratio))
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%.2f\t%s\t%s\n", s.Name, median(rps), median(per), r, dash(s.RatioTo))
	}
	tw.Flush()
}
