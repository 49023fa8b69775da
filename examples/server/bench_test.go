package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-kit/log"

	"github.com/heraldhq/herald/agent"
	"github.com/heraldhq/herald/api/auth"
	"github.com/heraldhq/herald/internal/testpg"
	"github.com/heraldhq/herald/scheduler"
	"github.com/heraldhq/herald/store/bunstore"
	"github.com/heraldhq/herald/webhook"
)

// The shape of BenchmarkWebhookIngest.
const (
	ingestClients  = 32
	ingestRequests = 4000 // per system and round
	ingestRounds   = 3
	ingestSecret   = "bench-secret"
)

// BenchmarkWebhookIngest measures signed GitHub-style webhooks taken in on
// PostgreSQL by 32 concurrent clients over loopback HTTP, closed loop:
// Herald's server (the webhook handler, the scheduler's AcceptEvent, the
// event and its run in one write, a no-op agent consuming the runs) beside
// the physical anchor, a plain net/http handler that reads the body,
// checks the same HMAC and does one INSERT … ON CONFLICT DO NOTHING. The
// two alternate round by round; it reports the median requests/s of each
// and the median of the per-round ratios.
//
//	go test -run '^$' -bench WebhookIngest -benchtime 1x ./examples/server
func BenchmarkWebhookIngest(b *testing.B) {
	dsn := testpg.DSN(b)
	ctx := context.Background()

	st, err := bunstore.Open(ctx, dsn, bunstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	agents := agent.NewRegistry()
	agents.MustRegister("noop", agent.Func(func(context.Context, *agent.Task) (*agent.Result, error) { return nil, nil }))
	sched, err := scheduler.New(st, scheduler.Config{Agents: agents})
	if err != nil {
		b.Fatal(err)
	}
	if err := sched.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer sched.Stop(ctx)
	gh, err := webhook.NewGitHub([]string{ingestSecret})
	if err != nil {
		b.Fatal(err)
	}
	authn, err := auth.NewTokens([]auth.Token{{Subject: "ops", Admin: true, Hash: auth.HashToken(testToken)}})
	if err != nil {
		b.Fatal(err)
	}
	h, err := newHandler(sched, authn, rateLimitConfig{}, []webhook.Source{{Name: "github", Verifier: gh, Agent: "noop", Owner: "ops"}}, nil, nil, log.NewNopLogger(), nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	herald := httptest.NewServer(h)
	defer herald.Close()

	db, err := sql.Open("pgx", dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(bunstore.MaxOpenConnsDefault)
	if _, err := db.ExecContext(ctx, "CREATE TABLE bench_events (delivery_id text PRIMARY KEY, body bytea NOT NULL, received_at timestamptz NOT NULL)"); err != nil {
		b.Fatal(err)
	}
	plain := httptest.NewServer(plainIngest(db))
	defer plain.Close()

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: ingestClients}}
	defer client.CloseIdleConnections()
	var seq atomic.Int64
	var heraldRates, plainRates, ratios []float64
	b.ResetTimer()
	for range ingestRounds {
		hr := ingestRate(b, client, herald.URL+"/v1/webhooks/github", &seq)
		pr := ingestRate(b, client, plain.URL+"/", &seq)
		heraldRates, plainRates, ratios = append(heraldRates, hr), append(plainRates, pr), append(ratios, hr/pr)
	}
	b.StopTimer()
	b.ReportMetric(median(heraldRates), "herald-req/s")
	b.ReportMetric(median(plainRates), "plain-req/s")
	b.ReportMetric(median(ratios), "ratio")
}

// ingestRate posts ingestRequests signed deliveries to url from
// ingestClients clients and returns the requests answered 200 per second.
func ingestRate(b *testing.B, client *http.Client, url string, seq *atomic.Int64) float64 {
	b.Helper()
	body := []byte(`{"ref":"refs/heads/main","repository":{"full_name":"heraldhq/herald"},"pusher":{"name":"bench"}}`)
	mac := hmac.New(sha256.New, []byte(ingestSecret))
	mac.Write(body)
	sig := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	var next atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for range ingestClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= ingestRequests {
				req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("X-GitHub-Event", "push")
				req.Header.Set("X-GitHub-Delivery", fmt.Sprintf("d-%d", seq.Add(1)))
				req.Header.Set("X-Hub-Signature-256", sig)
				resp, err := client.Do(req)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("%s: status %d", url, resp.StatusCode)
					}
				}
				if err != nil {
					failed.Store(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	return float64(ingestRequests) / time.Since(start).Seconds()
}

// plainIngest is the anchor: what any webhook endpoint must do at least.
func plainIngest(db *sql.DB) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, webhook.MaxBodyDefault))
		if err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		mac := hmac.New(sha256.New, []byte(ingestSecret))
		mac.Write(body)
		want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
		if !hmac.Equal([]byte(want), []byte(r.Header.Get("X-Hub-Signature-256"))) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		if _, err := db.ExecContext(r.Context(), "INSERT INTO bench_events (delivery_id, body, received_at) VALUES ($1, $2, now()) ON CONFLICT DO NOTHING",
			r.Header.Get("X-GitHub-Delivery"), body); err != nil {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"received":true}`))
	})
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}
