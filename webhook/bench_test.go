package webhook_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/agent"
	"github.com/heraldhq/herald/internal/testpg"
	"github.com/heraldhq/herald/scheduler"
	"github.com/heraldhq/herald/store/bunstore"
	"github.com/heraldhq/herald/webhook"
)

const benchSecret = "bench-secret"

// benchServer serves a GitHub-signed source on a database over loopback.
func benchServer(b *testing.B, kind string) *httptest.Server {
	b.Helper()
	var dsn string
	switch kind {
	case "sqlite":
		dsn = "sqlite://" + filepath.Join(b.TempDir(), "herald.db")
	case "postgres":
		dsn = testpg.DSN(b)
	}
	st, err := bunstore.Open(context.Background(), dsn, bunstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	agents := agent.NewRegistry()
	agents.MustRegister("echo", agent.Func(func(context.Context, *agent.Task) (*agent.Result, error) { return nil, nil }))
	s, err := scheduler.New(st, scheduler.Config{Agents: agents})
	if err != nil {
		b.Fatal(err)
	}
	v, err := webhook.NewGitHub([]string{benchSecret})
	if err != nil {
		b.Fatal(err)
	}
	h, err := webhook.NewHandler(webhook.HandlerConfig{Sink: schedulerSink(s),
		Sources: []webhook.Source{{Name: "github", Verifier: v, Agent: "echo", Owner: "ops"}}})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(h)
	b.Cleanup(srv.Close)
	srv.Client().Transport.(*http.Transport).MaxIdleConnsPerHost = 64
	return srv
}

var benchBody = []byte(`{"action":"opened","number":1,"repository":{"full_name":"heraldhq/herald"},"sender":{"login":"octocat"}}`)

func signedRequest(b *testing.B, url string, n int64) *http.Request {
	mac := hmac.New(sha256.New, []byte(benchSecret))
	mac.Write(benchBody)
	req, err := http.NewRequest(http.MethodPost, url+"/github", strings.NewReader(string(benchBody)))
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	req.Header.Set("X-GitHub-Delivery", fmt.Sprintf("bench-%d-%d", time.Now().UnixNano(), n))
	req.Header.Set("Content-Type", "application/json")
	return req
}

func benchKinds() []string {
	kinds := []string{"sqlite"}
	if os.Getenv(testpg.EnvDSN) != "" {
		kinds = append(kinds, "postgres")
	}
	return kinds
}

func send(b *testing.B, client *http.Client, req *http.Request) {
	resp, err := client.Do(req)
	if err != nil {
		b.Error(err)
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Errorf("status %d", resp.StatusCode)
	}
}

// BenchmarkHandlerThroughput: verified, recorded and enqueued deliveries per
// second through the handler over loopback HTTP, from 32 clients.
func BenchmarkHandlerThroughput(b *testing.B) {
	for _, kind := range benchKinds() {
		b.Run(kind, func(b *testing.B) {
			srv := benchServer(b, kind)
			var n atomic.Int64
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for range 32 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						i := n.Add(1)
						if i > int64(b.N) {
							return
						}
						send(b, srv.Client(), signedRequest(b, srv.URL, i))
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "deliveries/s")
		})
	}
}

// BenchmarkHandlerLatency: deliveries at a steady 500 per second for b.N
// seconds (run it with -benchtime 5x); reports the p50 and p99 latency.
func BenchmarkHandlerLatency(b *testing.B) {
	for _, kind := range benchKinds() {
		b.Run(kind, func(b *testing.B) {
			srv := benchServer(b, kind)
			var mu sync.Mutex
			var lat []time.Duration
			var wg sync.WaitGroup
			tick := time.NewTicker(2 * time.Millisecond)
			defer tick.Stop()
			b.ResetTimer()
			for i := range int64(b.N) * 500 {
				<-tick.C
				wg.Add(1)
				go func() {
					defer wg.Done()
					req := signedRequest(b, srv.URL, i)
					t := time.Now()
					send(b, srv.Client(), req)
					d := time.Since(t)
					mu.Lock()
					lat = append(lat, d)
					mu.Unlock()
				}()
			}
			wg.Wait()
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2])/1e6, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100])/1e6, "p99-ms")
		})
	}
}
