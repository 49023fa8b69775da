package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/heraldhq/herald/scheduler"
	"github.com/heraldhq/herald/webhook"
)

// Display names and cases of the webhook workload.
const (
	webhookHerald   = "Herald (PostgreSQL)"
	webhookBaseline = "net/http + INSERT (PostgreSQL)"
	webhookClosed   = "closed loop, 32 clients"
	webhookClients  = 32
	webhookSecret   = "bench-secret"
)

func webhookOpen(rate int) string { return fmt.Sprintf("open loop, %d req/s", rate) }

var webhookBody = []byte(`{"action":"opened","number":1,"repository":{"full_name":"heraldhq/herald"},"sender":{"login":"octocat"}}`)

// ingest is one webhook server under test.
type ingest struct {
	srv   *httptest.Server
	count func(ctx context.Context) (int64, error) // events recorded
	close func()
}

func openHeraldIngest(ctx context.Context, cfg *config) (*ingest, error) {
	q, err := openHeraldPG(ctx, cfg, 0)
	if err != nil {
		return nil, err
	}
	hq := q.(*heraldQueue)
	v, err := webhook.NewGitHub([]string{webhookSecret})
	if err != nil {
		hq.close()
		return nil, err
	}
	s, err := scheduler.New(hq.st, scheduler.Config{Agents: hq.registry()})
	if err != nil {
		hq.close()
		return nil, err
	}
	h, err := webhook.NewHandler(webhook.HandlerConfig{Sink: s,
		Sources: []webhook.Source{{Name: "github", Verifier: v, Agent: "noop", Owner: "bench"}}})
	if err != nil {
		hq.close()
		return nil, err
	}
	srv := httptest.NewServer(h)
	return &ingest{
		srv: srv,
		count: func(ctx context.Context) (int64, error) {
			var events, runs int64
			if err := hq.st.DB().QueryRowContext(ctx, "SELECT (SELECT count(*) FROM herald_events), (SELECT count(*) FROM herald_runs)").Scan(&events, &runs); err != nil {
				return 0, err
			}
			if events != runs {
				return 0, fmt.Errorf("%d events recorded but %d runs", events, runs)
			}
			return events, nil
		},
		close: func() { srv.Close(); hq.close() },
	}, nil
}

// openBaselineIngest is the physical anchor of an HTTP ingest: read the
// body, commit one INSERT, answer.
func openBaselineIngest(ctx context.Context, cfg *config) (*ingest, error) {
	dsn, err := ensureDatabase(ctx, cfg.pgURL, "anchor_bench")
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.New(ctx, withPool(dsn, cfg.pool))
	if err != nil {
		return nil, err
	}
	if _, err := pool.Exec(ctx, `CREATE TABLE IF NOT EXISTS webhook_baseline (delivery_id text PRIMARY KEY, body jsonb NOT NULL,
		received_at timestamptz NOT NULL DEFAULT now()); TRUNCATE webhook_baseline`); err != nil {
		pool.Close()
		return nil, fmt.Errorf("baseline table: %w", err)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		if _, err := pool.Exec(r.Context(), "INSERT INTO webhook_baseline (delivery_id, body) VALUES ($1, $2)", r.Header.Get("X-GitHub-Delivery"), body); err != nil {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"received":true}`)
	})
	srv := httptest.NewServer(h)
	return &ingest{
		srv: srv,
		count: func(ctx context.Context) (n int64, err error) {
			err = pool.QueryRow(ctx, "SELECT count(*) FROM webhook_baseline").Scan(&n)
			return n, err
		},
		close: func() { srv.Close(); pool.Close() },
	}, nil
}

func runWebhook(ctx context.Context, cfg *config, res *results) error {
	if !cfg.has(sysHeraldPG) {
		return nil
	}
	systems := []struct {
		name string
		open func(context.Context, *config) (*ingest, error)
	}{{webhookHerald, openHeraldIngest}, {webhookBaseline, openBaselineIngest}}
	var seq atomic.Int64
	prefix := fmt.Sprintf("b%d-", time.Now().UnixNano())
	for round := 1; round <= cfg.rounds; round++ {
		for _, sys := range systems {
			in, err := sys.open(ctx, cfg)
			if err != nil {
				return fmt.Errorf("webhook: %s: %w", sys.name, err)
			}
			err = webhookRound(ctx, cfg, res, in, sys.name, round, func() string { return prefix + fmt.Sprint(seq.Add(1)) })
			in.close()
			if err != nil {
				return fmt.Errorf("webhook: %s, round %d: %w", sys.name, round, err)
			}
		}
	}
	return nil
}

func webhookRound(ctx context.Context, cfg *config, res *results, in *ingest, system string, round int, id func() string) error {
	client := &http.Client{Transport: &http.Transport{MaxIdleConns: 4096, MaxIdleConnsPerHost: 4096, IdleConnTimeout: time.Minute}, Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	var sent atomic.Int64
	var failures atomic.Int64
	var firstErr atomic.Value
	send := func() {
		sent.Add(1)
		if err := post(ctx, client, in.srv.URL+"/github", id()); err != nil {
			failures.Add(1)
			firstErr.CompareAndSwap(nil, err.Error())
		}
	}
	for range 100 { // warm up: connections, statement caches
		send()
	}
	// Closed loop.
	var wg sync.WaitGroup
	var done atomic.Int64
	end := time.Now().Add(cfg.duration)
	start := time.Now()
	for range webhookClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) {
				send()
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	rate := float64(done.Load()) / time.Since(start).Seconds()
	res.add(&sample{workload: wlWebhook, variant: webhookClosed, system: system, ref: refFor(system), round: round, values: map[string]float64{"rate": rate}})
	progress("webhook %s round %d %s: rate=%.0f", webhookClosed, round, system, rate)
	// Open loop, at each rate.
	for _, r := range cfg.rates {
		n := int(float64(r) * cfg.duration.Seconds())
		lat := make([]time.Duration, n)
		interval := time.Second / time.Duration(r)
		start := time.Now()
		var wg sync.WaitGroup
		for i := range n {
			due := start.Add(time.Duration(i) * interval)
			time.Sleep(time.Until(due))
			wg.Add(1)
			go func() {
				defer wg.Done()
				send()
				lat[i] = time.Since(due)
			}()
		}
		wg.Wait()
		took := time.Since(start)
		p50, p99, mx := latencies(lat)
		v := map[string]float64{"rate": float64(n) / took.Seconds(), "p50": p50, "p99": p99, "max": mx}
		res.add(&sample{workload: wlWebhook, variant: webhookOpen(r), system: system, ref: refFor(system), round: round, values: v})
		progress("webhook %s round %d %s: %s", webhookOpen(r), round, system, show(v))
		if round == cfg.rounds {
			res.addCDF(webhookOpen(r), system, msAll(lat))
		}
	}
	if f := failures.Load(); f > 0 {
		return fmt.Errorf("%d of %d requests failed; the first: %v", f, sent.Load(), firstErr.Load())
	}
	got, err := in.count(ctx)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	if got != sent.Load() {
		return fmt.Errorf("verify: %d requests answered 200 but %d recorded in the database", sent.Load(), got)
	}
	return nil
}

func refFor(system string) string {
	if system == webhookHerald {
		return ""
	}
	return webhookHerald
}

// post sends one GitHub-signed delivery and checks the answer is 200.
func post(ctx context.Context, client *http.Client, url, id string) error {
	mac := hmac.New(sha256.New, []byte(webhookSecret))
	mac.Write(webhookBody)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(string(webhookBody)))
	if err != nil {
		return err
	}
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	req.Header.Set("X-GitHub-Delivery", id)
	req.Header.Set("X-GitHub-Event", "pull_request")
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d: %s", resp.StatusCode, body)
	}
	return nil
}
