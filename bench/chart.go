package main

import (
	"fmt"
	"html"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// chartFile is one SVG chart the report links.
type chartFile struct {
	workload string
	title    string
	file     string // relative to the report
}

var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"}

// writeCharts draws the throughput bars and latency CDFs into dir/charts.
func writeCharts(dir string, res *results) ([]chartFile, error) {
	var out []chartFile
	if err := os.MkdirAll(filepath.Join(dir, "charts"), 0o755); err != nil {
		return nil, err
	}
	write := func(workload, title, name, svg string) error {
		rel := "charts/" + name
		if err := os.WriteFile(filepath.Join(dir, rel), []byte(svg), 0o644); err != nil {
			return err
		}
		out = append(out, chartFile{workload, title, rel})
		return nil
	}
	bars := []struct{ workload, metric, title, name, unit string }{
		{wlBurnDown, "work_rate", "Burn-down: jobs/s worked (median)", "burndown.svg", "jobs/s"},
		{wlContinuous, "rate", "Continuous: jobs/s worked (median)", "continuous.svg", "jobs/s"},
		{wlInsert, "rate", "Single insert: inserts/s (median)", "insert.svg", "inserts/s"},
		{wlWebhook, "rate", "Webhook ingest: requests/s (median)", "webhook.svg", "req/s"},
	}
	for _, b := range bars {
		var rows []bar
		for _, v := range res.variants(b.workload) {
			if b.workload == wlWebhook && v != webhookClosed {
				continue
			}
			for _, s := range res.systems(b.workload, v) {
				rows = append(rows, bar{group: v, label: s.system, value: res.medianOf(b.workload, v, s.system, b.metric)})
			}
		}
		if len(rows) == 0 {
			continue
		}
		if err := write(b.workload, b.title, b.name, barChart(b.title, b.unit, rows)); err != nil {
			return nil, err
		}
	}
	keys := make([]string, 0, len(res.cdfs))
	for k := range res.cdfs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		workload, title := wlWebhook, "Webhook ingest latency, "+k+" (last round)"
		if strings.HasPrefix(k, "lateness ") {
			workload, title = wlLateness, "Fire lateness to the row, "+strings.TrimPrefix(k, "lateness ")+" (last round)"
		}
		name := strings.NewReplacer(" ", "-", ",", "", "/", "-").Replace(k) + "-cdf.svg"
		if err := write(workload, title, name, cdfChart(title, res.cdfs[k])); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// bar is one horizontal bar.
type bar struct {
	group, label string
	value        float64
}

func barChart(title, unit string, rows []bar) string {
	const left, width, rowH, top = 300, 420, 22, 40
	maxV := 0.0
	for _, r := range rows {
		if !math.IsNaN(r.value) {
			maxV = math.Max(maxV, r.value)
		}
	}
	if maxV == 0 {
		maxV = 1
	}
	colors := map[string]string{}
	var b strings.Builder
	y := top
	var body strings.Builder
	group := ""
	for _, r := range rows {
		if r.group != group {
			group = r.group
			fmt.Fprintf(&body, `<text x="8" y="%d" font-weight="bold">%s</text>`+"\n", y+14, html.EscapeString(group))
			y += rowH
		}
		c, ok := colors[r.label]
		if !ok {
			c = palette[len(colors)%len(palette)]
			colors[r.label] = c
		}
		w := 0.0
		if !math.IsNaN(r.value) {
			w = r.value / maxV * width
		}
		fmt.Fprintf(&body, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", left-6, y+14, html.EscapeString(r.label))
		fmt.Fprintf(&body, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>`+"\n", left, y+3, w, rowH-6, c)
		fmt.Fprintf(&body, `<text x="%.1f" y="%d">%s</text>`+"\n", float64(left)+w+4, y+14, num(r.value, 0))
		y += rowH
	}
	h := y + 30
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", left+width+90, h)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="8" y="20" font-size="14" font-weight="bold">%s</text>`+"\n", html.EscapeString(title))
	b.WriteString(body.String())
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#888"/>`+"\n", left, top, left, y)
	fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#555">0 … %s %s</text>`+"\n", left, y+18, num(maxV, 0), unit)
	b.WriteString("</svg>\n")
	return b.String()
}

// cdfChart draws the cumulative distribution of each series (ms), up to the
// largest 99.5th percentile; slower samples are off the right edge.
func cdfChart(title string, series map[string][]float64) string {
	const left, top, width, height = 60, 40, 560, 300
	names := make([]string, 0, len(series))
	xmax := 0.0
	for name, vs := range series {
		names = append(names, name)
		s := slices.Clone(vs)
		slices.Sort(s)
		series[name] = s
		if len(s) > 0 {
			xmax = math.Max(xmax, s[min(len(s)-1, int(0.995*float64(len(s))))])
		}
	}
	slices.Sort(names)
	xmin := 0.0
	for _, vs := range series {
		if len(vs) > 0 {
			xmin = math.Min(xmin, vs[0])
		}
	}
	if xmax <= xmin {
		xmax = xmin + 1
	}
	xmax *= 1.05
	px := func(v float64) float64 { return left + (v-xmin)/(xmax-xmin)*width }
	py := func(q float64) float64 { return top + (1-q)*height }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", left+width+200, top+height+50)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="8" y="20" font-size="14" font-weight="bold">%s</text>`+"\n", html.EscapeString(title))
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#888"/>`+"\n", left, top, width, height)
	for i := 0; i <= 4; i++ {
		q := float64(i) / 4
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#eee"/><text x="%d" y="%.1f" text-anchor="end">%.2f</text>`+"\n",
			left, py(q), left+width, py(q), left-4, py(q)+4, q)
		v := xmin + (xmax-xmin)*q
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%.3g</text>`+"\n", px(v), top+height+16, v)
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">latency, ms</text>`+"\n", left+width/2, top+height+36)
	for i, name := range names {
		vs := series[name]
		c := palette[i%len(palette)]
		var pts strings.Builder
		step := max(1, len(vs)/1000)
		for j := 0; j < len(vs); j += step {
			if vs[j] > xmax {
				break
			}
			fmt.Fprintf(&pts, "%.1f,%.1f ", px(vs[j]), py(float64(j+1)/float64(len(vs))))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", c, pts.String())
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="12" height="12" fill="%s"/><text x="%d" y="%d">%s</text>`+"\n",
			left+width+10, top+i*20, c, left+width+28, top+i*20+11, html.EscapeString(name))
	}
	b.WriteString("</svg>\n")
	return b.String()
}
