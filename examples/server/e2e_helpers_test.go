//go:build unix

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/testpg"
)

// The end-to-end tests build the server binary, start it as a process
// with a config file written per test, and drive it over HTTP only. These
// are their helpers: the process, an HTTP client holding a bearer token,
// and polling with a deadline.

// Tokens and secrets of the test configs.
const (
	e2eOpsToken     = "e2e-ops-token-5f0c3a9d81b2"
	e2eAliceToken   = "e2e-alice-token-7d21e6b04c95"
	e2eGitHubSecret = "e2e-github-secret-0a1b2c"
)

// Deadlines of the helpers.
const (
	// e2eStartTimeout bounds a server's start: the migrations, then
	// listening.
	e2eStartTimeout = 60 * time.Second
	// e2eStopTimeout bounds a server's exit after SIGTERM: its shutdown
	// grace (10 s) and some.
	e2eStopTimeout = 20 * time.Second
	// e2eRequestTimeout bounds one HTTP request.
	e2eRequestTimeout = 10 * time.Second
	// e2ePollInterval is how often a condition is polled.
	e2ePollInterval = 20 * time.Millisecond
)

// okRequestLine is the log line of a request answered 200, left out of
// the logs shown on failure: the polls make hundreds.
var okRequestLine = regexp.MustCompile(`(?m)^.* msg=request .* status=200 .*\n`)

// listeningLine is the server's log line once it listens.
var listeningLine = regexp.MustCompile(`msg=listening addr=(\S+)`)

// buildServer builds the server binary into a directory of t's, removed
// when t and its subtests end.
func buildServer(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go tool is needed to build the server: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "herald-server")
	cmd := exec.Command(goTool, "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build -o %s .: %v\n%s", bin, err, out)
	}
	return bin
}

// sqliteDSN is the DSN of a fresh SQLite database of t's.
func sqliteDSN(t *testing.T) string {
	return "sqlite://" + filepath.Join(t.TempDir(), "herald.db")
}

// onEachStore runs f as parallel subtests on a fresh SQLite database and a
// fresh PostgreSQL schema.
func onEachStore(t *testing.T, f func(t *testing.T, dsn string)) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		f(t, sqliteDSN(t))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		f(t, testpg.DSN(t))
	})
}

// e2eConfig is a config file with the ops (admin) and alice (user)
// tokens, debug logging, and extra appended (YAML at the top level).
func e2eConfig(extra string) string {
	return fmt.Sprintf(`auth:
  tokens:
    - {subject: ops, role: admin, token: %q}
    - {subject: alice, role: user, token: %q}
log: {level: debug}
`, e2eOpsToken, e2eAliceToken) + extra
}

// writeConfig writes text to a new config file of t's and returns its
// path.
func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "herald.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// lockedBuffer is a buffer that a process's output and the test share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// e2eServer is one server process.
type e2eServer struct {
	t      *testing.T
	name   string
	cmd    *exec.Cmd
	stdout lockedBuffer
	stderr lockedBuffer
	done   chan struct{} // closed when the process has exited
	err    error         // Wait's error, once done is closed
	// Base is the server's URL, http://127.0.0.1:PORT.
	Base string
	tr   *http.Transport
}

// startServer starts the binary bin on dsn with the config file at
// config and the extra flags, and returns once it listens. The process is
// killed when t ends, if it is still running; the log of a failed test
// shows its output.
func startServer(t *testing.T, bin, dsn, config string, extra ...string) *e2eServer {
	t.Helper()
	args := append([]string{"-addr", "127.0.0.1:0", "-db", dsn, "-config", config}, extra...)
	s := &e2eServer{t: t, name: strings.Join(append([]string{filepath.Base(bin)}, args...), " "), done: make(chan struct{}),
		tr: &http.Transport{MaxIdleConnsPerHost: 4}}
	s.cmd = exec.Command(bin, args...)
	s.cmd.Stdout, s.cmd.Stderr = &s.stdout, &s.stderr
	// The process gets only what it needs from the environment: no
	// HERALD_* variable of the shell overrides the flags.
	s.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "TMPDIR=" + os.TempDir()}
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	go func() {
		s.err = s.cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			_ = s.cmd.Process.Kill()
			<-s.done
		}
		s.tr.CloseIdleConnections()
		if t.Failed() {
			t.Logf("server %s (pid %d): exit %v\nstdout:\n%s\nstderr (last lines, without the lines of requests answered 200):\n%s",
				s.name, s.cmd.Process.Pid, s.err, s.stdout.String(), lastLines(okRequestLine.ReplaceAllString(s.stderr.String(), ""), 150))
		}
	})

	deadline := time.Now().Add(e2eStartTimeout)
	for {
		if m := listeningLine.FindStringSubmatch(s.stderr.String()); m != nil {
			s.Base = "http://" + m[1]
			return s
		}
		select {
		case <-s.done:
			t.Fatalf("server exited before listening: %v\nstderr:\n%s", s.err, s.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not log msg=listening within %v\nstderr:\n%s", e2eStartTimeout, s.stderr.String())
		}
		time.Sleep(e2ePollInterval)
	}
}

// Stop sends SIGTERM and waits for the process to exit, failing the
// test unless it exits with status 0 within e2eStopTimeout.
func (s *e2eServer) Stop() {
	s.t.Helper()
	s.tr.CloseIdleConnections()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		s.t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case <-s.done:
	case <-time.After(e2eStopTimeout):
		_ = s.cmd.Process.Kill()
		<-s.done
		s.t.Fatalf("server did not exit within %v of SIGTERM; killed", e2eStopTimeout)
	}
	if s.err != nil {
		s.t.Fatalf("server exited after SIGTERM with %v, want status 0\nstderr:\n%s", s.err, lastLines(s.stderr.String(), 40))
	}
}

// Stdout is what the process wrote to its standard output so far.
func (s *e2eServer) Stdout() string { return s.stdout.String() }

// Stderr is what the process wrote to its standard error (its log) so
// far.
func (s *e2eServer) Stderr() string { return s.stderr.String() }

// lastLines is the last n lines of text.
func lastLines(text string, n int) string {
	lines := strings.SplitAfter(text, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "")
}

// As returns a client of s sending token as a bearer token; "" sends
// none.
func (s *e2eServer) As(token string) *e2eClient {
	return &e2eClient{t: s.t, srv: s, token: token}
}

// e2eClient sends requests to a server with a bearer token.
type e2eClient struct {
	t     *testing.T
	srv   *e2eServer
	token string
}

// e2eResponse is an answer, read whole.
type e2eResponse struct {
	t      *testing.T
	req    string // "GET /v1/runs", for messages
	Code   int
	Header http.Header
	Body   []byte
}

// Do sends a request; body, when not empty, is sent as JSON. hdr are
// extra headers, name then value.
func (c *e2eClient) Do(method, path, body string, hdr ...string) *e2eResponse {
	c.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.srv.Base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	hc := &http.Client{Transport: c.srv.tr, Timeout: e2eRequestTimeout}
	resp, err := hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return &e2eResponse{t: c.t, req: method + " " + path, Code: resp.StatusCode, Header: resp.Header, Body: b}
}

// Want fails the test unless the status is code.
func (r *e2eResponse) Want(code int) *e2eResponse {
	r.t.Helper()
	if r.Code != code {
		r.t.Fatalf("%s = %d %s, want %d", r.req, r.Code, r.Body, code)
	}
	return r
}

// JSON decodes the body into v.
func (r *e2eResponse) JSON(v any) {
	r.t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		r.t.Fatalf("%s: body %q: %v", r.req, r.Body, err)
	}
}

// e2eProblem is an application/problem+json body.
type e2eProblem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Errors []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
}

// Problem fails the test unless the answer is a problem of status code,
// and returns it.
func (r *e2eResponse) Problem(code int) e2eProblem {
	r.t.Helper()
	r.Want(code)
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		r.t.Errorf("%s: Content-Type %q, want application/problem+json", r.req, ct)
	}
	var p e2eProblem
	r.JSON(&p)
	if p.Status != code || p.Type == "" || p.Title == "" {
		r.t.Errorf("%s: problem %+v, want status %d with a type and a title", r.req, p, code)
	}
	return p
}

// e2eSchedule is the part of a schedule the tests read.
type e2eSchedule struct {
	ID            string          `json:"id"`
	Owner         string          `json:"owner"`
	Name          string          `json:"name"`
	Agent         string          `json:"agent"`
	Payload       json.RawMessage `json:"payload"`
	Cron          *string         `json:"cron"`
	Every         *string         `json:"every"`
	Timezone      string          `json:"timezone"`
	Paused        bool            `json:"paused"`
	NextFireTimes []string        `json:"next_fire_times"`
	Version       int64           `json:"version"`
}

// e2eRun is the part of a run the tests read.
type e2eRun struct {
	ID           string          `json:"id"`
	Kind         string          `json:"kind"`
	ScheduleID   *string         `json:"schedule_id"`
	ScheduledFor *time.Time      `json:"scheduled_for"`
	EventID      *string         `json:"event_id"`
	Owner        string          `json:"owner"`
	Agent        string          `json:"agent"`
	Status       string          `json:"status"`
	Attempt      int             `json:"attempt"`
	Node         *string         `json:"node"`
	Error        *string         `json:"error"`
	Output       json.RawMessage `json:"output"`
}

func (r e2eRun) String() string {
	s := fmt.Sprintf("run %s %s attempt %d", r.ID, r.Status, r.Attempt)
	if r.Node != nil {
		s += " on " + *r.Node
	}
	if r.Error != nil {
		s += fmt.Sprintf(" error %q", *r.Error)
	}
	return s
}

// e2eEvent is the part of a webhook event the tests read.
type e2eEvent struct {
	ID         string  `json:"id"`
	Source     string  `json:"source"`
	DeliveryID string  `json:"delivery_id"`
	RunID      *string `json:"run_id"`
	Owner      string  `json:"owner"`
}

// CreateSchedule creates the schedule of body and returns it.
func (c *e2eClient) CreateSchedule(body string) e2eSchedule {
	c.t.Helper()
	var s e2eSchedule
	c.Do(http.MethodPost, "/v1/schedules", body).Want(http.StatusCreated).JSON(&s)
	if s.ID == "" {
		c.t.Fatalf("POST /v1/schedules %s: no id", body)
	}
	return s
}

// Schedules lists the schedules of the query ("" or "?owner=…").
func (c *e2eClient) Schedules(query string) []e2eSchedule {
	c.t.Helper()
	var page struct {
		Schedules []e2eSchedule `json:"schedules"`
	}
	c.Do(http.MethodGet, "/v1/schedules"+query, "").Want(http.StatusOK).JSON(&page)
	return page.Schedules
}

// Enqueue enqueues the run of body and returns its id.
func (c *e2eClient) Enqueue(body string) string {
	c.t.Helper()
	var acc struct {
		RunID string `json:"run_id"`
	}
	c.Do(http.MethodPost, "/v1/runs", body).Want(http.StatusAccepted).JSON(&acc)
	if acc.RunID == "" {
		c.t.Fatalf("POST /v1/runs %s: no run_id", body)
	}
	return acc.RunID
}

// Run reads a run.
func (c *e2eClient) Run(id string) e2eRun {
	c.t.Helper()
	var r e2eRun
	c.Do(http.MethodGet, "/v1/runs/"+id, "").Want(http.StatusOK).JSON(&r)
	return r
}

// Runs lists the runs of the query ("?schedule_id=…").
func (c *e2eClient) Runs(query string) []e2eRun {
	c.t.Helper()
	var page struct {
		Runs []e2eRun `json:"runs"`
	}
	c.Do(http.MethodGet, "/v1/runs"+query, "").Want(http.StatusOK).JSON(&page)
	return page.Runs
}

// WaitRun polls a run until its status is status, failing the test if
// it ends with another status or the deadline passes.
func (c *e2eClient) WaitRun(id, status string, timeout time.Duration) e2eRun {
	c.t.Helper()
	var r e2eRun
	poll(c.t, timeout, "run "+id+" "+status, func() (bool, string) {
		r = c.Run(id)
		if r.Status != status && terminal(r.Status) {
			c.t.Fatalf("%v, want %s", r, status)
		}
		return r.Status == status, r.String()
	})
	return r
}

// terminal reports whether a run's status is final.
func terminal(status string) bool {
	switch status {
	case "succeeded", "failed", "cancelled", "timed_out", "skipped":
		return true
	}
	return false
}

// poll calls cond every e2ePollInterval until it reports true, failing
// the test with cond's last description when timeout passes first.
func poll(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s; last: %s", timeout, what, last)
		}
		time.Sleep(e2ePollInterval)
	}
}

// jsonEqual reports whether a and b are the same JSON value.
func jsonEqual(a, b []byte) bool {
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return false
	}
	ja, _ := json.Marshal(va)
	jb, _ := json.Marshal(vb)
	return bytes.Equal(ja, jb)
}
