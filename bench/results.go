package main

import (
	"math"
	"slices"
	"time"
)

// metric describes one figure of a workload.
type metric struct {
	key    string // the key in sample.values
	label  string // the column heading
	higher bool   // higher is better
	digits int    // decimals shown
}

// sample is what one system did in one round of one case of a workload.
type sample struct {
	workload string             // one of the wl* names
	variant  string             // the case, e.g. "PostgreSQL, 100 workers"
	system   string             // the system's display name
	ref      string             // the display name of the Herald system it is compared with; empty for Herald itself
	round    int                // 1-based
	values   map[string]float64 // metric key → value
}

// results collects the samples of a run, and the latency distributions the
// charts draw.
type results struct {
	samples []*sample
	// cdfs are latency samples (ms) per chart and series, from the last
	// round.
	cdfs map[string]map[string][]float64
}

func (r *results) add(s *sample) { r.samples = append(r.samples, s) }

func (r *results) addCDF(chart, series string, ms []float64) {
	if r.cdfs == nil {
		r.cdfs = map[string]map[string][]float64{}
	}
	if r.cdfs[chart] == nil {
		r.cdfs[chart] = map[string][]float64{}
	}
	r.cdfs[chart][series] = ms
}

// median of vs; NaN when empty.
func median(vs []float64) float64 {
	if len(vs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// quantile of sorted ds (nearest rank).
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(ds)))) - 1
	return ds[max(0, min(len(ds)-1, i))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// msAll converts durations to milliseconds.
func msAll(ds []time.Duration) []float64 {
	out := make([]float64, len(ds))
	for i, d := range ds {
		out[i] = ms(d)
	}
	return out
}

// latencies summarizes ds (sorted in place) into p50, p99 and max in ms.
func latencies(ds []time.Duration) (p50, p99, mx float64) {
	slices.Sort(ds)
	if len(ds) == 0 {
		return math.NaN(), math.NaN(), math.NaN()
	}
	return ms(quantile(ds, 0.5)), ms(quantile(ds, 0.99)), ms(ds[len(ds)-1])
}
