package main

import (
	"bytes"
	"fmt"
	"html"
)

// chart draws the summary as a horizontal bar chart of requests/s (one
// bar per scenario and server, nginx in grey) and, below, the stock
// scripts' Redis CPU per call: plain SVG, no dependencies, for the README.
func chart(r results) []byte {
	const (
		left, barMax, rowH, width = 330, 400, 22, 920
	)
	var maxRPS float64
	for _, row := range r.Summary {
		maxRPS = max(maxRPS, row.RPS)
	}
	type bar struct {
		label, value string
		frac         float64
		nginx        bool
	}
	var bars []bar
	for _, row := range r.Summary {
		v := fmt.Sprintf("%.0f/s", row.RPS)
		if row.Anchor != "" {
			v += fmt.Sprintf("  %.2f× %s", row.Ratio, row.Anchor)
		}
		bars = append(bars, bar{row.Scenario + " (" + row.Server + ")", v, row.RPS / max(maxRPS, 1), row.Server == "nginx"})
	}
	var scripts []bar
	var maxUs float64
	seen := map[string]bool{}
	for _, s := range r.Scripts {
		if !seen[s.Name] {
			seen[s.Name] = true
			var per []float64
			for _, t := range r.Scripts {
				if t.Name == s.Name {
					per = append(per, t.UsecPerCall)
				}
			}
			m := median(per)
			maxUs = max(maxUs, m)
			scripts = append(scripts, bar{s.Name, fmt.Sprintf("%.2f µs/call", m), m, false})
		}
	}
	for i := range scripts {
		scripts[i].frac /= max(maxUs, 1e-9)
	}
	height := 70 + rowH*len(bars) + 40 + rowH*len(scripts) + 40 + 18*len(r.Spikes)
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="#fff"/>`+"\n")
	fmt.Fprintf(&b, `<text x="10" y="20" font-size="15" font-weight="bold">flashgate make bench: requests/s, medians of %d interleaved rounds of %s</text>`+"\n", r.Rounds, r.Duration)
	fmt.Fprintf(&b, `<text x="10" y="38" fill="#555">%s</text>`+"\n", html.EscapeString(r.Machine))
	fmt.Fprintf(&b, `<text x="10" y="54" fill="#555">%s; wrk -t%d -c%d</text>`+"\n", html.EscapeString(r.Command), r.Threads, r.Conns)
	y := 70
	draw := func(list []bar, colour string) {
		for _, br := range list {
			c := colour
			if br.nginx {
				c = "#999"
			}
			fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`, left-8, y+14, html.EscapeString(br.label))
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>`, left, y+2, br.frac*barMax, rowH-6, c)
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" fill="#222">%s</text>`+"\n", float64(left)+br.frac*barMax+6, y+14, html.EscapeString(br.value))
			y += rowH
		}
	}
	draw(bars, "#2b6cb0")
	y += 20
	fmt.Fprintf(&b, `<text x="10" y="%d" font-weight="bold">Redis CPU per stock decision (INFO commandstats usec_per_call, redis-benchmark -P 16)</text>`+"\n", y+4)
	y += 14
	draw(scripts, "#c05621")
	y += 10
	for _, sp := range r.Spikes {
		fmt.Fprintf(&b, `<text x="10" y="%d">flash sale round %d: %d users in %.1f s over 2 gateways, %d units sold out in %.0f ms; p99 admitted %.1f ms, sold-out %.1f ms; %s</text>`+"\n",
			y+8, sp.Round, sp.Users, sp.ArrivalS, sp.Stock, sp.SellOutMs, sp.AdmittedP99Ms, sp.SoldOutP99Ms, html.EscapeString(sp.Invariants))
		y += 18
	}
	b.WriteString("</svg>\n")
	return b.Bytes()
}
