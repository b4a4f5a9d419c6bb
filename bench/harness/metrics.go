package main

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

// counters are the gateway's request counters, "route reason" -> count:
// flashgate_filter_rejections_total by reason, flashgate_requests_total
// by outcome (admitted, rejected, and the others such as shed).
type counters map[string]float64

// scrape reads the counters from a gateway's admin /metrics.
func scrape(adminAddr string) (counters, error) {
	code, body, err := fasthttp.GetTimeout(nil, "http://"+adminAddr+"/metrics", 5*time.Second)
	if err != nil || code != 200 {
		return nil, fmt.Errorf("metrics of %s: %d %v", adminAddr, code, err)
	}
	c := counters{}
	for _, line := range strings.Split(string(body), "\n") {
		name, labels, value, ok := promSample(line)
		if !ok {
			continue
		}
		switch name {
		case "flashgate_filter_rejections_total":
			c[labels["route"]+" "+labels["reason"]] += value
		case "flashgate_requests_total":
			c[labels["route"]+" "+labels["outcome"]] += value
		}
	}
	return c, nil
}

// promSample parses one line of the Prometheus text format.
func promSample(line string) (name string, labels map[string]string, value float64, ok bool) {
	if line == "" || line[0] == '#' {
		return "", nil, 0, false
	}
	open := strings.IndexByte(line, '{')
	shut := strings.LastIndexByte(line, '}')
	if open < 0 || shut < open {
		return "", nil, 0, false
	}
	name = line[:open]
	labels = map[string]string{}
	for _, kv := range strings.Split(line[open+1:shut], `",`) {
		k, v, found := strings.Cut(kv, `="`)
		if found {
			labels[k] = strings.TrimSuffix(v, `"`)
		}
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(line[shut+1:]), 64)
	return name, labels, v, err == nil
}

// reasons is after minus before for the routes given, as "reason=n"
// sorted by count.
func reasons(before, after counters, routes ...string) map[string]int64 {
	out := map[string]int64{}
	for k, v := range after {
		route, reason, _ := strings.Cut(k, " ")
		if reason == "admitted" || reason == "rejected" {
			continue // totals, not reasons
		}
		for _, r := range routes {
			if r == route {
				if d := int64(v - before[k]); d > 0 {
					out[reason] += d
				}
			}
		}
	}
	return out
}

func formatReasons(m map[string]int64) string {
	type kv struct {
		k string
		v int64
	}
	var list []kv
	for k, v := range m {
		list = append(list, kv{k, v})
	}
	sort.Slice(list, func(i, j int) bool { return list[i].v > list[j].v || list[i].v == list[j].v && list[i].k < list[j].k })
	var parts []string
	for _, e := range list {
		parts = append(parts, e.k+"="+strconv.FormatInt(e.v, 10))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, " ")
}
