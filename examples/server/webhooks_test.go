package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/testpg"
	"github.com/heraldhq/herald/scheduler"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/store/bunstore"
	"github.com/heraldhq/herald/store/memstore"
	"github.com/heraldhq/herald/webhook"
)

const testConfig = `webhooks:
  - {source: github, scheme: github, secrets: ["${TEST_GITHUB_SECRET}"], agent: echo, owner: ops}
  - {source: plain, scheme: insecure, agent: echo, owner: ops, delivery_id_header: X-Request-Id, deliver: [{channel: log, to: plain-results}]}
`

func TestWebhooksEndToEnd(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		testWebhooks(t, "sqlite://"+filepath.Join(t.TempDir(), "h.db"))
	})
	t.Run("postgres", func(t *testing.T) {
		testWebhooks(t, testpg.DSN(t))
	})
}

// testWebhooks serves a config file's sources and checks that a signed
// delivery becomes a run of echo that succeeds with the body as output.
func testWebhooks(t *testing.T, dsn string) {
	file := filepath.Join(t.TempDir(), "herald.yaml")
	if err := os.WriteFile(file, []byte(testConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"TEST_GITHUB_SECRET": "s3cret"}
	ready := make(chan string, 1)
	cfg := mustLoadConfig(t, env, "-addr", "127.0.0.1:0", "-db", dsn, "-config", file)
	cfg.Ready = ready
	ctx, cancel := context.WithCancel(context.Background())
	var logs syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, quiet(cfg), newLogger(&logs, logConfig{}, "s3cret")) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("run: %v\n%s", err, logs.String())
	case <-time.After(30 * time.Second):
		t.Fatal("not listening")
	}

	body := `{"action":"opened","number":7}`
	mac := hmac.New(sha256.New, []byte("s3cret"))
	mac.Write([]byte(body))
	post := func(source, sig, id string) (int, map[string]any) {
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/v1/webhooks/"+source, strings.NewReader(body))
		if sig != "" {
			req.Header.Set("X-Hub-Signature-256", sig)
		}
		req.Header.Set("X-GitHub-Delivery", id)
		req.Header.Set("X-Request-Id", id)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var out map[string]any
		_ = json.Unmarshal(raw, &out)
		return resp.StatusCode, out
	}
	status, out := post("github", "sha256="+hex.EncodeToString(mac.Sum(nil)), "gh-1")
	if status != http.StatusOK || out["received"] != true {
		t.Fatalf("signed delivery: %d %v\n%s", status, out, logs.String())
	}
	if status, _ := post("github", "sha256="+strings.Repeat("0", 64), "gh-2"); status != http.StatusUnauthorized {
		t.Errorf("forged delivery: %d, want 401", status)
	}
	if status, out := post("github", "sha256="+hex.EncodeToString(mac.Sum(nil)), strings.Repeat("g", 201)); status != http.StatusBadRequest {
		t.Errorf("delivery id over the store's limit: %d %v, want 400 (a 503 is retried forever)", status, out)
	}
	status, plain := post("plain", "", "p-1")
	if status != http.StatusOK || plain["duplicate"] != false {
		t.Errorf("insecure source: %d %v", status, plain)
	}
	if status, out := post("plain", "", "p-1"); status != http.StatusOK || out["duplicate"] != true {
		t.Errorf("insecure source, same id: %d %v, want a duplicate", status, out)
	}

	st, err := bunstore.Open(context.Background(), dsn, bunstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	runID := out["run_id"].(string)
	var r *store.Run
	deadline := time.Now().Add(10 * time.Second)
	for {
		if r, err = st.RunGet(context.Background(), runID); err == nil && r.Status.Terminal() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s not finished: %+v %v", runID, r, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if r.Status != store.RunSucceeded || string(r.Output) != body || r.Kind != store.RunKindWebhook {
		t.Errorf("webhook run: %s %s output %s", r.Kind, r.Status, r.Output)
	}
	// The plain source's target gets the result of its run.
	plainRun, _ := plain["run_id"].(string)
	delivered := func() bool {
		return strings.Contains(logs.String(), `msg="run result" run_id=`+plainRun+" owner=ops agent=echo status=succeeded channel=log to=plain-results")
	}
	for deadline := time.Now().Add(10 * time.Second); !delivered() && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if !delivered() {
		t.Errorf("the run's result was not delivered to the source's target:\n%s", logs.String())
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run: %v", err)
	}
	if strings.Contains(logs.String(), "s3cret") {
		t.Error("the secret reached the log")
	}
}

func TestConfigFileIsChecked(t *testing.T) {
	cases := map[string]string{
		"unknown key":    "webhooks:\n  - {source: a, scheme: github, secrets: [x], agent: echo, owner: ops, colour: red}\n",
		"unknown scheme": "webhooks:\n  - {source: a, scheme: carrier-pigeon, secrets: [x], agent: echo, owner: ops}\n",
		"empty secret":   "webhooks:\n  - {source: a, scheme: github, secrets: [\"${UNSET}\"], agent: echo, owner: ops}\n",
		"no secrets":     "webhooks:\n  - {source: a, scheme: stripe, agent: echo, owner: ops}\n",
		"bad encoding":   "webhooks:\n  - {source: a, scheme: hmac, secrets: [x], encoding: rot13, agent: echo, owner: ops}\n",
	}
	for name, text := range cases {
		t.Run(name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "c.yaml")
			if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			fc, err := loadConfigFile(file, func(string) string { return "" })
			if err == nil {
				_, err = fc.sources()
			}
			if err == nil {
				t.Fatal("accepted")
			}
			t.Log(err)
		})
	}
}

// acceptErrStore fails EventAccept with err.
type acceptErrStore struct {
	store.Store
	err error
}

func (s acceptErrStore) EventAccept(context.Context, *store.EventAcceptParams) (*store.EventAcceptResult, error) {
	return nil, s.err
}

// webhookServer serves one GitHub source, "github", signed with secret,
// through the server's handler on st.
func webhookServer(t *testing.T, st store.Store, secret string) http.Handler {
	t.Helper()
	sched, err := scheduler.New(st, scheduler.Config{Agents: builtinAgents(st, retentionConfig{})})
	if err != nil {
		t.Fatal(err)
	}
	gh, err := webhook.NewGitHub([]string{secret})
	if err != nil {
		t.Fatal(err)
	}
	return testHandler(t, st, nil, sched, []webhook.Source{{Name: "github", Verifier: gh, Agent: "echo", Owner: "ops"}})
}

// TestWebhookRefusalsAreNot503 checks that a delivery the store can never
// accept is answered 400 naming the header at fault, and that only a
// store that cannot answer now gets 503.
func TestWebhookRefusalsAreNot503(t *testing.T) {
	const secret, body = "s3cret", `{"action":"opened"}`
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(body))
	sig := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	cases := []struct {
		name   string
		err    error // EventAccept's error; nil keeps the store
		id     string
		status int
		detail []string
	}{
		{"delivery id over the store's limit", nil, strings.Repeat("g", 201), http.StatusBadRequest, []string{"X-GitHub-Delivery", "at most 200 bytes"}},
		{"delivery id at the store's limit", nil, strings.Repeat("g", 200), http.StatusOK, nil},
		{"store unavailable", fmt.Errorf("insert event: %w", store.ErrUnavailable), "gh-1", http.StatusServiceUnavailable, []string{"retry later"}},
		{"store timeout", context.DeadlineExceeded, "gh-1", http.StatusServiceUnavailable, []string{"retry later"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := newMemstore(t)
			if c.err != nil {
				st = acceptErrStore{Store: st, err: c.err}
			}
			req := httptest.NewRequest(http.MethodPost, "/v1/webhooks/github", strings.NewReader(body))
			req.Header.Set("X-Hub-Signature-256", sig)
			req.Header.Set("X-GitHub-Delivery", c.id)
			rec := httptest.NewRecorder()
			webhookServer(t, st, secret).ServeHTTP(rec, req)
			if rec.Code != c.status {
				t.Fatalf("status %d (%s), want %d", rec.Code, strings.TrimSpace(rec.Body.String()), c.status)
			}
			for _, want := range c.detail {
				if !strings.Contains(rec.Body.String(), want) {
					t.Errorf("answer %s does not name %q", rec.Body, want)
				}
			}
		})
	}
}

// TestSchedulerSinkTranslatesStoreErrors checks the sink's side of the
// webhook.Sink contract: what the store refuses of the sender's input
// becomes a *webhook.InvalidEventError naming the Event field (the store's
// error kept in the chain); everything else stays as it is, for a 503.
func TestSchedulerSinkTranslatesStoreErrors(t *testing.T) {
	cases := []struct {
		name    string
		err     error // EventAccept's error; nil keeps the store
		event   webhook.Event
		invalid *webhook.InvalidEventError // nil: not an invalid event
		is      error                      // the error the result must still match
	}{
		{"delivery id too long", nil, webhook.Event{Source: "github", DeliveryID: strings.Repeat("g", 201), Agent: "echo", Owner: "ops"},
			&webhook.InvalidEventError{Field: "DeliveryID", Rule: "must be at most 200 bytes"}, store.ErrInvalid},
		{"body too large", nil, webhook.Event{Source: "github", DeliveryID: "d-1", Body: []byte(strings.Repeat("b", 65)), Agent: "echo", Owner: "ops"},
			&webhook.InvalidEventError{Field: "Body", Rule: "must be at most 64 bytes"}, store.ErrInvalid},
		{"source too long", nil, webhook.Event{Source: strings.Repeat("s", 64), DeliveryID: "d-1", Agent: "echo", Owner: "ops"},
			&webhook.InvalidEventError{Field: "Source", Rule: "must be at most 63 bytes"}, store.ErrInvalid},
		{"agent not registered: the operator's to fix", nil, webhook.Event{Source: "github", DeliveryID: "d-1", Agent: "nope", Owner: "ops"},
			nil, store.ErrInvalid},
		{"store unavailable", store.ErrUnavailable, webhook.Event{Source: "github", DeliveryID: "d-1", Agent: "echo", Owner: "ops"},
			nil, store.ErrUnavailable},
		{"timeout", context.DeadlineExceeded, webhook.Event{Source: "github", DeliveryID: "d-1", Agent: "echo", Owner: "ops"},
			nil, context.DeadlineExceeded},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mem := memstore.New(memstore.Options{Limits: store.Limits{MaxPayload: 64}})
			t.Cleanup(func() { mem.Close() })
			var st store.Store = mem
			if c.err != nil {
				st = acceptErrStore{Store: mem, err: c.err}
			}
			sched, err := scheduler.New(st, scheduler.Config{Agents: builtinAgents(st, retentionConfig{})})
			if err != nil {
				t.Fatal(err)
			}
			_, err = sched.Accept(context.Background(), &c.event)
			if !errors.Is(err, c.is) {
				t.Errorf("error %v does not match %v", err, c.is)
			}
			var got *webhook.InvalidEventError
			switch {
			case c.invalid == nil && errors.Is(err, webhook.ErrInvalidEvent):
				t.Errorf("error %v is an invalid event: it would be answered 400, not retried", err)
			case c.invalid != nil && !errors.As(err, &got):
				t.Errorf("error %v is no *webhook.InvalidEventError", err)
			case c.invalid != nil && *got != *c.invalid:
				t.Errorf("invalid event %+v, want %+v", *got, *c.invalid)
			}
		})
	}

	// Through a handler that leaves the delivery id's length to the sink,
	// the store's rule reaches the sender, with the header's name.
	t.Run("handler", func(t *testing.T) {
		st := newMemstore(t)
		sched, err := scheduler.New(st, scheduler.Config{Agents: builtinAgents(st, retentionConfig{})})
		if err != nil {
			t.Fatal(err)
		}
		h, err := webhook.NewHandler(webhook.HandlerConfig{Sink: sched, MaxDeliveryID: 1000, Sources: []webhook.Source{
			{Name: "plain", Verifier: webhook.Insecure(), Agent: "echo", Owner: "ops", DeliveryIDHeader: "X-Request-Id"}}})
		if err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest(http.MethodPost, "/plain", strings.NewReader(`{}`))
		req.Header.Set("X-Request-Id", strings.Repeat("r", 201))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "X-Request-Id") ||
			!strings.Contains(rec.Body.String(), "at most 200 bytes") {
			t.Errorf("answer %d %s, want 400 naming X-Request-Id and the store's rule", rec.Code, rec.Body)
		}
	})
}
