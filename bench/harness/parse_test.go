package main

import (
	"reflect"
	"testing"
)

func TestParsers(t *testing.T) {
	t.Run("prometheus sample", func(t *testing.T) {
		tests := []struct {
			line   string
			name   string
			labels map[string]string
			value  float64
			ok     bool
		}{
			{`flashgate_filter_rejections_total{filter="stock",reason="sold_out",route="buy_local"} 105116`,
				"flashgate_filter_rejections_total", map[string]string{"filter": "stock", "reason": "sold_out", "route": "buy_local"}, 105116, true},
			{`flashgate_requests_total{outcome="admitted",route="buy"} 1.5e+06`,
				"flashgate_requests_total", map[string]string{"outcome": "admitted", "route": "buy"}, 1.5e6, true},
			{"# HELP flashgate_requests_total Requests", "", nil, 0, false},
			{"go_goroutines 12", "", nil, 0, false},
		}
		for _, tc := range tests {
			name, labels, value, ok := promSample(tc.line)
			if ok != tc.ok || ok && (name != tc.name || value != tc.value || !reflect.DeepEqual(labels, tc.labels)) {
				t.Errorf("promSample(%q) = %q %v %v %v", tc.line, name, labels, value, ok)
			}
		}
	})
	t.Run("rejection reasons", func(t *testing.T) {
		before := counters{"buy sold_out": 10, "buy admitted": 5, "other sold_out": 1}
		after := counters{"buy sold_out": 25, "buy admitted": 9, "buy token_missing": 3, "other sold_out": 7}
		got := reasons(before, after, "buy")
		if want := map[string]int64{"sold_out": 15, "token_missing": 3}; !reflect.DeepEqual(got, want) {
			t.Errorf("reasons = %v, want %v", got, want)
		}
		if s := formatReasons(got); s != "sold_out=15 token_missing=3" {
			t.Errorf("formatReasons = %q", s)
		}
	})
	t.Run("redis-benchmark", func(t *testing.T) {
		out := "EVALSHA abc: rps=0.0 (overall: nan) avg_msec=nan\rEVALSHA abc 2 k1 k2 u__rand_int__: 62709.38 requests per second, p50=14.1 msec\n"
		if got := parseRPS(out); got != 62709.38 {
			t.Errorf("parseRPS = %v", got)
		}
		info := "# Commandstats\r\ncmdstat_config:calls=1,usec=20,usec_per_call=20.00\r\ncmdstat_evalsha:calls=300000,usec=4035000,usec_per_call=13.45,rejected_calls=0,failed_calls=0\r\n"
		if calls, per := commandStat(info, "evalsha"); calls != 300000 || per != 13.45 {
			t.Errorf("commandStat = %d %v", calls, per)
		}
	})
	t.Run("variant", func(t *testing.T) {
		v, err := parseVariant("wb4k:write_buffer_size=4096,server.keep_alive=false")
		if err != nil || v.name != "wb4k" || !reflect.DeepEqual(v.server, map[string]any{"write_buffer_size": 4096, "keep_alive": false}) {
			t.Errorf("parseVariant = %+v, %v", v, err)
		}
		v, err = parseVariant("p1:env.GOMAXPROCS=1,write_buffer_size=8192")
		if err != nil || !reflect.DeepEqual(v.env, []string{"GOMAXPROCS=1"}) || !reflect.DeepEqual(v.server, map[string]any{"write_buffer_size": 8192}) {
			t.Errorf("parseVariant(env) = %+v, %v", v, err)
		}
		for _, bad := range []string{"wb4k", ":a=1", "x:novalue"} {
			if _, err := parseVariant(bad); err == nil {
				t.Errorf("parseVariant(%q) accepted", bad)
			}
		}
	})
	t.Run("percentiles", func(t *testing.T) {
		us := []int64{5000, 1000, 2000, 3000, 4000, 6000, 7000, 8000, 9000, 10000}
		if p50, p99 := pct(us, 50), pct(us, 99); p50 != 5 || p99 != 10 {
			t.Errorf("pct = %v %v", p50, p99)
		}
		if m := median([]float64{3, 1, 2, 10}); m != 2.5 {
			t.Errorf("median = %v", m)
		}
	})
}
