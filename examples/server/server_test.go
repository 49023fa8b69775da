package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/go-kit/log"
	"go.uber.org/goleak"

	"github.com/heraldhq/herald/api"
	"github.com/heraldhq/herald/api/auth"
	"github.com/heraldhq/herald/internal/testpg"
	"github.com/heraldhq/herald/scheduler"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/store/memstore"
	"github.com/heraldhq/herald/webhook"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// get serves one request on h and decodes its JSON body.
func get(t *testing.T, h http.Handler, method, path string) (int, statusResponse) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	var body statusResponse
	if rec.Code != http.StatusMethodNotAllowed {
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s %s: Content-Type %q, want application/json", method, path, ct)
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("%s %s: body %q: %v", method, path, rec.Body, err)
		}
	}
	return rec.Code, body
}

func newMemstore(t *testing.T) store.Store {
	t.Helper()
	st := memstore.New(memstore.Options{})
	t.Cleanup(func() { st.Close() })
	return st
}

func TestHealthz(t *testing.T) {
	h := mustServer(t, newMemstore(t), nil)
	code, body := get(t, h, http.MethodGet, "/healthz")
	if code != http.StatusOK || body != (statusResponse{Status: "ok"}) {
		t.Errorf("GET /healthz = %d %+v, want 200 {ok}", code, body)
	}
}

func TestHealthzWhenStoreClosed(t *testing.T) {
	// Liveness says the process is up; it does not depend on the store.
	st := newMemstore(t)
	h := mustServer(t, st, nil)
	st.Close()
	if code, body := get(t, h, http.MethodGet, "/healthz"); code != http.StatusOK {
		t.Errorf("GET /healthz with a closed store = %d %+v, want 200", code, body)
	}
}

func TestReadyz(t *testing.T) {
	st := newMemstore(t)
	h := mustServer(t, st, nil)
	code, body := get(t, h, http.MethodGet, "/readyz")
	if code != http.StatusOK || body != (statusResponse{Status: "ready"}) {
		t.Errorf("GET /readyz = %d %+v, want 200 {ready}", code, body)
	}

	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if err := st.Ping(context.Background()); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("Ping after Close = %v, want store.ErrClosed", err)
	}
	code, body = get(t, h, http.MethodGet, "/readyz")
	if code != http.StatusServiceUnavailable || body.Status != "unavailable" || body.Error != "store closed" {
		t.Errorf("GET /readyz after Close = %d %+v, want 503 {unavailable, store closed}", code, body)
	}
}

// pingStore is a store whose Ping is replaced.
type pingStore struct {
	store.Store
	ping func(context.Context) error
}

func (s pingStore) Ping(ctx context.Context) error { return s.ping(ctx) }

func TestReadyzHidesTheStoreError(t *testing.T) {
	const secret = "postgres://herald:hunter2@db.internal:5432/herald"
	var logs bytes.Buffer
	st := pingStore{newMemstore(t), func(context.Context) error {
		return fmt.Errorf("%w: dial %s: connection refused", store.ErrUnavailable, secret)
	}}
	h := mustServer(t, st, newLogger(&logs, logConfig{}, dsnSecrets(secret)...))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("status %d, want 503", rec.Code)
	}
	if got, want := rec.Body.String(), `{"status":"unavailable","error":"store unavailable"}`+"\n"; got != want {
		t.Errorf("body %q, want %q", got, want)
	}
	if strings.Contains(logs.String(), "hunter2") || strings.Contains(logs.String(), secret) {
		t.Errorf("the log shows the password: %s", logs.String())
	}
	if !strings.Contains(logs.String(), "not ready") || !strings.Contains(logs.String(), "connection refused") {
		t.Errorf("the log does not say why the store is not ready: %s", logs.String())
	}
}

func TestReadyzTimesOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := pingStore{newMemstore(t), func(ctx context.Context) error {
			<-ctx.Done() // a store that never answers
			return ctx.Err()
		}}
		h := mustServer(t, st, nil)
		start := time.Now()
		code, body := get(t, h, http.MethodGet, "/readyz")
		if code != http.StatusServiceUnavailable || body.Status != "unavailable" || !strings.Contains(body.Error, "did not answer") {
			t.Errorf("GET /readyz = %d %+v, want 503 unavailable, did not answer", code, body)
		}
		if d := time.Since(start); d != api.ReadyTimeoutDefault {
			t.Errorf("answered after %v, want %v", d, api.ReadyTimeoutDefault)
		}
	})
}

func TestMethodNotAllowed(t *testing.T) {
	h := mustServer(t, newMemstore(t), nil)
	for _, path := range []string{"/healthz", "/readyz"} {
		for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
			if rec.Code != http.StatusMethodNotAllowed {
				t.Errorf("%s %s = %d, want 405", method, path, rec.Code)
			}
			if allow := rec.Header().Get("Allow"); !strings.Contains(allow, http.MethodGet) {
				t.Errorf("%s %s: Allow %q, want GET", method, path, allow)
			}
		}
	}
}

func TestUnknownPath(t *testing.T) {
	h := mustServer(t, newMemstore(t), nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/nope", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("GET /nope = %d, want 404", rec.Code)
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader in two
// goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// httpGet fetches url with a client that keeps no idle connections.
func httpGet(t *testing.T, url string) (int, statusResponse) {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", url, err)
	}
	var body statusResponse
	if err := json.Unmarshal(b, &body); err != nil {
		t.Fatalf("GET %s: body %q: %v", url, b, err)
	}
	return resp.StatusCode, body
}

func TestRun(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		testRun(t, "sqlite://"+filepath.Join(t.TempDir(), "h.db"), "sqlite")
	})
	t.Run("postgres", func(t *testing.T) {
		testRun(t, testpg.DSN(t), "postgres")
	})
}

// testRun starts the server on dsn, checks that it serves, stops it and
// checks that it stopped cleanly.
func testRun(t *testing.T, dsn, dialect string) {
	var logs syncBuffer
	ready := make(chan string, 1)
	cfg := config{Addr: "127.0.0.1:0", Database: dsn, Ready: ready}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- run(ctx, quiet(cfg), newLogger(&logs, logConfig{}, dsnSecrets(dsn)...)) }()

	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("run returned before listening: %v\nlog:\n%s", err, logs.String())
	case <-time.After(30 * time.Second):
		cancel()
		<-done
		t.Fatalf("run did not listen within 30s\nlog:\n%s", logs.String())
	}

	if code, body := httpGet(t, "http://"+addr+"/healthz"); code != http.StatusOK || body.Status != "ok" {
		t.Errorf("GET /healthz = %d %+v, want 200 ok", code, body)
	}
	if code, body := httpGet(t, "http://"+addr+"/readyz"); code != http.StatusOK || body.Status != "ready" {
		t.Errorf("GET /readyz = %d %+v, want 200 ready", code, body)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run = %v, want nil after a cancel", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("run did not return within 5s of the cancel")
	}

	out := logs.String()
	for _, want := range []string{"msg=listening", "addr=" + addr, "store=" + dialect, "msg=stopped", "caller=", "ts="} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, dsn) {
		t.Errorf("log shows the whole DSN:\n%s", out)
	}
}

func TestRunRefusesABadDatabase(t *testing.T) {
	// Nothing listens on port 1: the store cannot open, and neither the
	// error nor the log may show the password.
	const dsn = "postgres://herald:hunter2@127.0.0.1:1/herald?sslmode=disable&connect_timeout=5"
	var logs syncBuffer
	logger := newLogger(&logs, logConfig{}, dsnSecrets(dsn)...)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := run(ctx, quiet(config{Addr: "127.0.0.1:0", Database: dsn}), logger)
	if err == nil {
		t.Fatal("run with an unreachable database = nil, want an error")
	}
	if !strings.Contains(err.Error(), "127.0.0.1:1/herald") {
		t.Errorf("error %q does not name the database", err)
	}
	logger.Log("msg", "server failed", "err", err) // as main does
	if strings.Contains(logs.String(), "hunter2") {
		t.Errorf("the log shows the password:\n%s", logs.String())
	}
}

// statusResponse is the body of the health and readiness endpoints.
type statusResponse = api.Status

// mustServer is the server's handler on a scheduler started on st, with
// no webhook sources.
func mustServer(t *testing.T, st store.Store, logger log.Logger) http.Handler {
	t.Helper()
	sched, err := scheduler.New(st, scheduler.Config{Agents: builtinAgents(st, retentionConfig{})})
	if err != nil {
		t.Fatal(err)
	}
	if err := sched.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sched.Stop(context.Background()) })
	return testHandler(t, st, logger, sched, nil)
}

// testToken is the admin token of testHandler.
const testToken = "hrld_test_admin_token_0123456789"

// testHandler is the server's handler for sched, with sources, one admin
// token (testToken) and metrics on a registry of its own.
func testHandler(t *testing.T, st store.Store, logger log.Logger, sched *scheduler.Scheduler, sources []webhook.Source) http.Handler {
	t.Helper()
	authn, err := auth.NewTokens([]auth.Token{{Subject: "ops", Admin: true, Hash: auth.HashToken(testToken)}})
	if err != nil {
		t.Fatal(err)
	}
	if logger == nil {
		logger = log.NewNopLogger()
	}
	reg, m, err := newMetrics(st)
	if err != nil {
		t.Fatal(err)
	}
	h, err := newHandler(sched, authn, rateLimitConfig{}, sources, reg, m, logger, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// quiet is c with what the server prints once (a generated admin token)
// dropped.
func quiet(c config) config {
	if c.Out == nil {
		c.Out = io.Discard
	}
	return c
}
