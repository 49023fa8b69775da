package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/heraldhq/herald/agent"
	"github.com/heraldhq/herald/api"
	"github.com/heraldhq/herald/api/auth"
	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/scheduler"
	"github.com/heraldhq/herald/scheduler/schedulertest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("database/sql.(*DB).connectionOpener"))
}

// Tokens of the fixture's principals.
const (
	opsToken   = "hrld_ops_admin_token"
	aliceToken = "hrld_alice_user_token"
)

// fixture is the REST API on a started scheduler on memstore (under a
// fake clock), served on loopback.
type fixture struct {
	h        *schedulertest.Harness
	srv      *httptest.Server
	runLists atomic.Int64 // GET /v1/runs requests served
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	agents := agent.NewRegistry()
	agents.MustRegister("echo", agent.Func(func(_ context.Context, task *agent.Task) (*agent.Result, error) {
		return &agent.Result{Output: task.Payload, Summary: "echoed"}, nil
	}))
	router := delivery.NewRouter()
	router.MustRegister("log", delivery.Func(func(context.Context, *delivery.Message) error { return nil }))
	h := schedulertest.New(t, scheduler.Config{Agents: agents, Delivery: router, ShutdownGrace: time.Second})
	tokens, err := auth.NewTokens([]auth.Token{
		{Subject: "ops", Admin: true, Hash: auth.HashToken(opsToken)},
		{Subject: "alice", Hash: auth.HashToken(aliceToken)},
	})
	if err != nil {
		t.Fatal(err)
	}
	a, err := api.New(api.Config{Scheduler: h.Scheduler, Authenticator: tokens, Clock: h.Clock})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{h: h}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.ServeHTTP(w, r)
		if r.Method == http.MethodGet && r.URL.Path == "/v1/runs" {
			f.runLists.Add(1)
		}
	})) // on 127.0.0.1
	t.Cleanup(f.srv.Close)
	return f
}

// result is what one invocation of the command did.
type result struct {
	code           int
	stdout, stderr string
}

// herald runs the command in process against the fixture's server as
// ops, the admin.
func (f *fixture) herald(t *testing.T, args ...string) result {
	t.Helper()
	return f.heraldAs(t, opsToken, args...)
}

// heraldAs runs the command with token in HERALD_TOKEN ("" for none).
func (f *fixture) heraldAs(t *testing.T, token string, args ...string) result {
	t.Helper()
	env := map[string]string{envServer: f.srv.URL, envToken: token}
	return heraldEnv(t, env, args...)
}

// heraldEnv runs the command in process with the environment env.
func heraldEnv(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code := runEnv(ctx, args, &stdout, &stderr, func(k string) string { return env[k] })
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// ok fails the test unless r succeeded, and returns its output.
func (r result) ok(t *testing.T) string {
	t.Helper()
	if r.code != exitOK {
		t.Fatalf("exit %d, want 0; stderr:\n%s\nstdout:\n%s", r.code, r.stderr, r.stdout)
	}
	return r.stdout
}

// fails fails the test unless r exited with code and its stderr holds
// each of want.
func (r result) fails(t *testing.T, code int, want ...string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit %d, want %d; stderr:\n%s\nstdout:\n%s", r.code, code, r.stderr, r.stdout)
	}
	for _, w := range want {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr does not hold %q:\n%s", w, r.stderr)
		}
	}
}

// decode parses r's stdout as JSON into v.
func (r result) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.ok(t)), v); err != nil {
		t.Fatalf("stdout is not the JSON expected: %v\n%s", err, r.stdout)
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and concurrent
// readers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(schedulertest.WaitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
