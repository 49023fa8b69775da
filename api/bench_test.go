package api_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/agent"
	"github.com/heraldhq/herald/api"
	"github.com/heraldhq/herald/api/auth"
	"github.com/heraldhq/herald/internal/testpg"
	"github.com/heraldhq/herald/scheduler"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/store/bunstore"
)

// benchAPI is an API on a scheduler on a real store. When working is set
// the scheduler is started, and its workers run what is enqueued with a
// no-op agent, as a server's would; else the handler is measured alone.
func benchAPI(b *testing.B, dialect string, working bool) *api.API {
	b.Helper()
	ctx := context.Background()
	dsn := "sqlite://" + filepath.Join(b.TempDir(), "bench.db")
	if dialect == "postgres" {
		dsn = testpg.DSN(b)
	}
	st, err := bunstore.Open(ctx, dsn, bunstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	agents := agent.NewRegistry()
	agents.MustRegister("noop", agent.Func(func(context.Context, *agent.Task) (*agent.Result, error) { return nil, nil }))
	s, err := scheduler.New(st, scheduler.Config{Agents: agents})
	if err != nil {
		b.Fatal(err)
	}
	if working {
		if err := s.Start(ctx); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Stop(context.Background()) })
	}
	tokens, err := auth.NewTokens([]auth.Token{{Subject: "alice", Hash: auth.HashToken(aliceToken)}})
	if err != nil {
		b.Fatal(err)
	}
	a, err := api.New(api.Config{Scheduler: s, Authenticator: tokens})
	if err != nil {
		b.Fatal(err)
	}
	return a
}

// benchShape is a store and whether the node's workers run meanwhile.
type benchShape struct {
	dialect string
	working bool
}

func (c benchShape) name() string {
	if c.working {
		return c.dialect + "/working"
	}
	return c.dialect + "/alone"
}

var benchShapes = []benchShape{{"sqlite", false}, {"sqlite", true}, {"postgres", false}, {"postgres", true}}

var enqueueBody = []byte(`{"agent":"noop","payload":{"report":"weekly","n":1}}`)

// postRun sends one POST /v1/runs through the whole handler.
func postRun(b *testing.B, a http.Handler) {
	req := httptest.NewRequest("POST", "/v1/runs", bytes.NewReader(enqueueBody))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+aliceToken)
	rec := httptest.NewRecorder()
	a.ServeHTTP(rec, req)
	if rec.Code != http.StatusAccepted {
		b.Errorf("status %d: %s", rec.Code, rec.Body)
	}
}

// BenchmarkEnqueueHTTP measures POST /v1/runs through the whole handler
// (authentication, decoding, validation, the enqueue's commit) with 32
// concurrent clients, closed loop: the handler alone, and while the
// node's workers run what is enqueued (each run is then three commits:
// its enqueue, its claim and its end). It reports requests/s.
//
//	go test -run '^$' -bench 'EnqueueHTTP$' -benchtime 5000x ./api
func BenchmarkEnqueueHTTP(b *testing.B) {
	for _, c := range benchShapes {
		b.Run(c.name(), func(b *testing.B) {
			a := benchAPI(b, c.dialect, c.working)
			const clients = 32
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for next.Add(1) <= int64(b.N) {
						postRun(b, a)
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
		})
	}
}

// BenchmarkEnqueueHTTPLatency measures POST /v1/runs open loop at a fixed
// 1,000 requests/s for 3 s, the handler alone and with the node's workers
// running: each request's latency is counted from the moment it was due
// to be sent, so a stall is charged to every request it delays (no
// coordinated omission). It reports p50, p99 and max in ms.
//
//	go test -run '^$' -bench EnqueueHTTPLatency -benchtime 1x ./api
func BenchmarkEnqueueHTTPLatency(b *testing.B) {
	const rate, seconds = 1000, 3
	for _, c := range benchShapes {
		b.Run(c.name(), func(b *testing.B) {
			a := benchAPI(b, c.dialect, c.working)
			for range 200 { // warm up
				postRun(b, a)
			}
			b.ResetTimer()
			for range b.N {
				n := rate * seconds
				lat := make([]time.Duration, n)
				interval := time.Second / rate
				start := time.Now()
				var wg sync.WaitGroup
				for i := range n {
					due := start.Add(time.Duration(i) * interval)
					time.Sleep(time.Until(due))
					wg.Add(1)
					go func() {
						defer wg.Done()
						postRun(b, a)
						lat[i] = time.Since(due)
					}()
				}
				wg.Wait()
				slices.Sort(lat)
				ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
				b.ReportMetric(ms(lat[n/2]), "p50-ms")
				b.ReportMetric(ms(lat[n*99/100]), "p99-ms")
				b.ReportMetric(ms(lat[n-1]), "max-ms")
			}
		})
	}
}

// BenchmarkListRunsHTTP measures GET /v1/runs?limit=100 through the whole
// handler (authentication, the query, the JSON of 100 runs) beside the
// store's RunList of the same page, on a history of 10,000 runs, and
// reports the p50 and p99 of each in ms: the handler's own cost. The
// store's listing on a history of 1,000,000 runs is BenchmarkRunList in
// store/bunstore.
//
//	go test -run '^$' -bench ListRunsHTTP -benchtime 2000x ./api
func BenchmarkListRunsHTTP(b *testing.B) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		b.Run(dialect, func(b *testing.B) {
			ctx := context.Background()
			dsn := "sqlite://" + filepath.Join(b.TempDir(), "bench.db")
			if dialect == "postgres" {
				dsn = testpg.DSN(b)
			}
			st, err := bunstore.Open(ctx, dsn, bunstore.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			agents := agent.NewRegistry()
			agents.MustRegister("noop", agent.Func(func(context.Context, *agent.Task) (*agent.Result, error) { return nil, nil }))
			s, err := scheduler.New(st, scheduler.Config{Agents: agents})
			if err != nil {
				b.Fatal(err)
			}
			for range 10 {
				batch := make([]*store.RunEnqueueParams, 1000)
				for i := range batch {
					batch[i] = &store.RunEnqueueParams{Owner: "alice", Agent: "noop", Payload: []byte(`{"report":"weekly","n":1}`)}
				}
				if _, err := st.RunEnqueue(ctx, batch...); err != nil {
					b.Fatal(err)
				}
			}
			tokens, err := auth.NewTokens([]auth.Token{{Subject: "alice", Hash: auth.HashToken(aliceToken)}})
			if err != nil {
				b.Fatal(err)
			}
			a, err := api.New(api.Config{Scheduler: s, Authenticator: tokens})
			if err != nil {
				b.Fatal(err)
			}
			handler := make([]time.Duration, 0, b.N)
			direct := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for range b.N {
				req := httptest.NewRequest("GET", "/v1/runs?limit=100", nil)
				req.Header.Set("Authorization", "Bearer "+aliceToken)
				rec := httptest.NewRecorder()
				start := time.Now()
				a.ServeHTTP(rec, req)
				handler = append(handler, time.Since(start))
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d", rec.Code)
				}
				start = time.Now()
				if _, err := st.RunList(ctx, &store.RunListParams{Owner: "alice", Limit: 100}); err != nil {
					b.Fatal(err)
				}
				direct = append(direct, time.Since(start))
			}
			b.StopTimer()
			ms := func(d []time.Duration, q int) float64 {
				slices.Sort(d)
				return float64(d[len(d)*q/100]) / float64(time.Millisecond)
			}
			b.ReportMetric(ms(handler, 50), "http-p50-ms")
			b.ReportMetric(ms(handler, 99), "http-p99-ms")
			b.ReportMetric(ms(direct, 50), "store-p50-ms")
			b.ReportMetric(ms(direct, 99), "store-p99-ms")
		})
	}
}
