package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/agent"
	"github.com/heraldhq/herald/api"
	"github.com/heraldhq/herald/api/auth"
	"github.com/heraldhq/herald/backfill"
	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/keyring"
	"github.com/heraldhq/herald/scheduler"
	"github.com/heraldhq/herald/scheduler/schedulertest"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/webhook"
)

// Tokens of the fixture's principals.
const (
	opsToken   = "hrld_ops_admin_token"
	aliceToken = "hrld_alice_user_token"
	bobToken   = "hrld_bob_user_token"
)

// fixture is an API on a started scheduler on memstore, under a fake clock.
type fixture struct {
	t       *testing.T
	h       *schedulertest.Harness
	api     *api.API
	sleeper chan struct{} // closed to let sleep runs end
}

type fixtureOptions struct {
	policy   scheduler.Policy
	rate     api.RateLimit
	webhooks []webhook.Source
	observer api.Observer
	backfill bool // serve /v1/workspaces, with a stub slack_backfill agent
}

func newFixture(t *testing.T, opts ...fixtureOptions) *fixture {
	t.Helper()
	var o fixtureOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	f := &fixture{t: t, sleeper: make(chan struct{})}
	agents := agent.NewRegistry()
	agents.MustRegister("echo", agent.Func(func(_ context.Context, task *agent.Task) (*agent.Result, error) {
		return &agent.Result{Output: task.Payload, Summary: "echoed"}, nil
	}))
	agents.MustRegister("sleep", agent.Func(func(ctx context.Context, task *agent.Task) (*agent.Result, error) {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-f.sleeper:
			return &agent.Result{Summary: "slept"}, nil
		}
	}))
	if o.backfill {
		agents.MustRegister(backfill.AgentName, agent.Func(func(context.Context, *agent.Task) (*agent.Result, error) {
			return &agent.Result{Summary: "backfilled"}, nil
		}))
	}
	router := delivery.NewRouter()
	router.MustRegister("log", delivery.Func(func(context.Context, *delivery.Message) error { return nil }))
	f.h = schedulertest.New(t, scheduler.Config{Agents: agents, Delivery: router, Policy: o.policy, ShutdownGrace: time.Second})
	t.Cleanup(func() {
		select {
		case <-f.sleeper:
		default:
			close(f.sleeper)
		}
	})
	tokens, err := auth.NewTokens([]auth.Token{
		{Subject: "ops", Admin: true, Hash: auth.HashToken(opsToken)},
		{Subject: "alice", Hash: auth.HashToken(aliceToken)},
		{Subject: "bob", Hash: auth.HashToken(bobToken)},
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := api.Config{Scheduler: f.h.Scheduler, Authenticator: tokens, RateLimit: o.rate,
		Webhooks: o.webhooks, Observer: o.observer, Clock: f.h.Clock}
	if o.backfill {
		key, err := keyring.GenerateKey("k1")
		if err != nil {
			t.Fatal(err)
		}
		kr, err := keyring.New(key)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Backfill, err = backfill.NewVault(f.h.Store, kr,
			func(*store.Workspace, keyring.Secret) (backfill.Source, error) {
				return nil, errors.New("no source in these tests")
			})
		if err != nil {
			t.Fatal(err)
		}
		cfg.Messages = f.h.Store
	}
	a, err := api.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.api = a
	return f
}

// response is a recorded answer.
type response struct {
	code   int
	header http.Header
	body   []byte
}

// decode unmarshals the body into v, failing the test otherwise.
func (r *response) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// problem decodes a problem body, checking its media type.
func (r *response) problem(t *testing.T) *api.Problem {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("content type %q, want application/problem+json; body %s", ct, r.body)
	}
	var p api.Problem
	r.decode(t, &p)
	if p.Status != r.code || p.Type == "" || p.Title == "" || p.Detail == "" {
		t.Fatalf("incomplete problem %s for status %d", r.body, r.code)
	}
	return &p
}

// do sends a request with token (none when empty) and a JSON body (none
// when nil; a string or []byte is sent as it is).
func (f *fixture) do(method, path, token string, body any) *response {
	f.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			f.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req := httptest.NewRequest(method, path, rd)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	f.api.ServeHTTP(rec, req)
	return &response{code: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

// want fails the test unless r has status code.
func (r *response) want(t *testing.T, code int) *response {
	t.Helper()
	if r.code != code {
		t.Fatalf("status %d, want %d; body %s", r.code, code, r.body)
	}
	return r
}

// createSchedule creates a schedule as token and returns it.
func (f *fixture) createSchedule(token string, body map[string]any) *api.Schedule {
	f.t.Helper()
	var s api.Schedule
	f.do("POST", "/v1/schedules", token, body).want(f.t, http.StatusCreated).decode(f.t, &s)
	return &s
}

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }
