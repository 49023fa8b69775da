package dashboard_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/agent"
	"github.com/heraldhq/herald/api"
	"github.com/heraldhq/herald/api/auth"
	"github.com/heraldhq/herald/dashboard"
	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/scheduler"
	"github.com/heraldhq/herald/scheduler/schedulertest"
	"github.com/heraldhq/herald/webhook"
)

// Tokens of the fixture's principals.
const (
	opsToken   = "hrld_ops_admin_token"
	aliceToken = "hrld_alice_user_token"
	bobToken   = "hrld_bob_user_token"
)

// fixture is the dashboard over the API on a started scheduler on
// memstore, served by an httptest server.
type fixture struct {
	t       testing.TB
	h       *schedulertest.Harness
	api     *api.API
	dash    *dashboard.Dashboard
	srv     *httptest.Server
	release chan struct{} // each value lets one "slow" run end
	steps   chan struct{} // each value moves the "backfill" run one channel on
}

type fixtureOptions struct {
	live time.Duration
	tls  bool
}

func newFixture(t testing.TB, opts ...fixtureOptions) *fixture {
	t.Helper()
	var o fixtureOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	f := &fixture{t: t, release: make(chan struct{}), steps: make(chan struct{})}
	stop := make(chan struct{})
	agents := agent.NewRegistry()
	agents.MustRegister("echo", agent.Func(func(_ context.Context, task *agent.Task) (*agent.Result, error) {
		return &agent.Result{Output: task.Payload, Summary: "echoed"}, nil
	}))
	agents.MustRegister("slow", agent.Func(func(ctx context.Context, task *agent.Task) (*agent.Result, error) {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-stop:
			return nil, context.Canceled
		case <-f.release:
			return &agent.Result{Summary: "done slowly", Output: json.RawMessage(`{"ok":true}`)}, nil
		}
	}))
	agents.MustRegister("backfill", agent.Func(func(ctx context.Context, task *agent.Task) (*agent.Result, error) {
		const total = 4
		for i := int64(0); i <= total; i++ {
			if err := task.Progress.Report(ctx, map[string]int64{"channels_total": total, "channels_processed": i, "messages_collected": i * 250}); err != nil {
				return nil, err
			}
			if i == total {
				break
			}
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-stop:
				return nil, context.Canceled
			case <-f.steps:
			}
		}
		return &agent.Result{Summary: "collected 1000 messages"}, nil
	}))
	agents.MustRegister("fail", agent.Func(func(context.Context, *agent.Task) (*agent.Result, error) {
		return nil, agent.Permanent(errString("the upstream said no"))
	}))
	router := delivery.NewRouter()
	router.MustRegister("log", delivery.Func(func(context.Context, *delivery.Message) error { return nil }))
	f.h = schedulertest.New(t, scheduler.Config{Agents: agents, Delivery: router, ShutdownGrace: time.Second})
	t.Cleanup(func() { close(stop) })
	tokens, err := auth.NewTokens([]auth.Token{
		{Subject: "ops", Admin: true, Hash: auth.HashToken(opsToken)},
		{Subject: "alice", Hash: auth.HashToken(aliceToken)},
		{Subject: "bob", Hash: auth.HashToken(bobToken)},
	})
	if err != nil {
		t.Fatal(err)
	}
	f.api, err = api.New(api.Config{Scheduler: f.h.Scheduler, Authenticator: tokens, Clock: f.h.Clock,
		Webhooks: []webhook.Source{{Name: "hook", Verifier: webhook.Insecure(), Agent: "echo", Owner: "alice",
			DeliveryIDHeader: "X-Delivery", KeepHeaders: []string{"Content-Type", "X-Delivery"}}}})
	if err != nil {
		t.Fatal(err)
	}
	f.dash, err = dashboard.New(dashboard.Config{API: f.api, Authenticator: tokens, Clock: f.h.Clock,
		LiveInterval: o.live})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/v1/", f.api)
	mux.Handle("/", f.dash)
	if o.tls {
		f.srv = httptest.NewTLSServer(mux)
	} else {
		f.srv = httptest.NewServer(mux)
	}
	f.srv.Config.RegisterOnShutdown(f.dash.Close)
	t.Cleanup(func() {
		f.dash.Close()
		f.srv.Close()
	})
	return f
}

type errString string

func (e errString) Error() string { return string(e) }

// apiCall sends the API a request with token and decodes its answer.
func (f *fixture) apiCall(token, method, path string, body any, out any) int {
	f.t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			f.t.Fatal(err)
		}
		r = strings.NewReader(string(b))
	}
	req := httptest.NewRequest(method, path, r)
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	f.api.ServeHTTP(rec, req)
	if out != nil && rec.Code < 300 {
		if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
			f.t.Fatalf("%s %s: %v: %s", method, path, err, rec.Body)
		}
	}
	return rec.Code
}

// createSchedule creates a schedule as token's holder.
func (f *fixture) createSchedule(token string, req map[string]any) *api.Schedule {
	f.t.Helper()
	var s api.Schedule
	if code := f.apiCall(token, "POST", "/v1/schedules", req, &s); code != http.StatusCreated {
		f.t.Fatalf("create schedule: %d", code)
	}
	return &s
}

// runNow starts a schedule's run.
func (f *fixture) runNow(token, id string) string {
	f.t.Helper()
	var acc api.RunAccepted
	if code := f.apiCall(token, "POST", "/v1/schedules/"+id+"/run", nil, &acc); code != http.StatusAccepted {
		f.t.Fatalf("run now: %d", code)
	}
	return acc.RunID
}

// waitRun polls the run until cond holds, within the harness's timeout.
func (f *fixture) waitRun(id string, cond func(*api.RunDetail) bool) *api.RunDetail {
	f.t.Helper()
	deadline := time.Now().Add(schedulertest.WaitTimeout)
	for {
		var r api.RunDetail
		f.apiCall(opsToken, "GET", "/v1/runs/"+id, nil, &r)
		if cond(&r) {
			return &r
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("run %s: condition not met; status %s", id, r.Status)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// client is a browser: a cookie jar and the CSRF token of its session.
type client struct {
	t    testing.TB
	f    *fixture
	http *http.Client
	csrf string
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// newClient returns a browser that has not signed in.
func (f *fixture) newClient() *client {
	jar, _ := cookiejar.New(nil)
	hc := *f.srv.Client()
	hc.Jar = jar
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &client{t: f.t, f: f, http: &hc}
}

// signIn returns a browser signed in with token.
func (f *fixture) signIn(token string) *client {
	f.t.Helper()
	c := f.newClient()
	code, _, loc := c.signIn(token)
	if code != http.StatusSeeOther || loc != "/" {
		f.t.Fatalf("sign in: %d to %q", code, loc)
	}
	_, body := c.get("/")
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		f.t.Fatal("no CSRF token on the overview")
	}
	c.csrf = m[1]
	return c
}

// signIn posts the sign-in form with token.
func (c *client) signIn(token string) (int, string, string) {
	c.t.Helper()
	_, page := c.get("/signin")
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		c.t.Fatal("no CSRF token on the sign-in page")
	}
	return c.post("/signin", url.Values{"csrf": {m[1]}, "token": {token}})
}

func (c *client) do(req *http.Request) (*http.Response, string) {
	c.t.Helper()
	res, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return res, string(b)
}

func (c *client) get(path string) (int, string) {
	c.t.Helper()
	req, _ := http.NewRequest("GET", c.f.srv.URL+path, nil)
	res, body := c.do(req)
	return res.StatusCode, body
}

// post posts a form; it answers the status, the body and the redirect.
func (c *client) post(path string, form url.Values, headers ...string) (int, string, string) {
	c.t.Helper()
	req, _ := http.NewRequest("POST", c.f.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, body := c.do(req)
	return res.StatusCode, body, res.Header.Get("Location")
}

// action posts a form with the session's CSRF token.
func (c *client) action(path string, form url.Values) (int, string, string) {
	c.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf", c.csrf)
	return c.post(path, form)
}
