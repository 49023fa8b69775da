// Package buckets holds the histogram bucket boundaries, in seconds, that
// Herald's Prometheus metrics (package metrics) and its OpenTelemetry
// metrics (module otelherald) share, so that the two report alike.
package buckets

// Duration bounds the durations of runs and deliveries: 10 ms to an hour.
func Duration() []float64 {
	return []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600}
}

// Lateness bounds lateness: from a millisecond (a claim woken by a
// notification) to five minutes (a node that was down).
func Lateness() []float64 {
	return []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}
}

// HTTP bounds the durations of HTTP requests: a millisecond to ten
// seconds.
func HTTP() []float64 {
	return []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
}
