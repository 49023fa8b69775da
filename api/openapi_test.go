package api_test

import (
	"bytes"
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/heraldhq/herald/agent"
	"github.com/heraldhq/herald/api"
	"github.com/heraldhq/herald/api/auth"
	"github.com/heraldhq/herald/backfill"
	"github.com/heraldhq/herald/keyring"
	"github.com/heraldhq/herald/scheduler"
	"github.com/heraldhq/herald/scheduler/schedulertest"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/store/memstore"
	"github.com/heraldhq/herald/webhook"
)

// The OpenAPI document is checked with kin-openapi, which supports 3.1:
// for a 3.1 document openapi3filter validates with its JSON Schema 2020-12
// mode (type arrays, const) by itself. Schemas without 2020-only keywords
// may still go through its older validator, for which {} does not admit
// null: the document writes "any JSON value" as a list of every type.

// contract checks exchanges with the API against its OpenAPI document and
// records which documented responses they produced.
type contract struct {
	doc    *openapi3.T
	router routers.Router
	seen   map[string]bool // "POST /v1/runs 202"
}

// loadContract loads and validates the embedded document.
func loadContract(t *testing.T) *contract {
	t.Helper()
	ctx := context.Background()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(api.OpenAPI())
	if err != nil {
		t.Fatalf("load the OpenAPI document: %v", err)
	}
	if err := doc.Validate(ctx); err != nil {
		t.Fatalf("the OpenAPI document is not valid: %v", err)
	}
	if !doc.IsOpenAPI31OrLater() {
		t.Fatalf("the document is OpenAPI %s, want 3.1", doc.OpenAPI)
	}
	// Herald's ids are UUIDv7, which the RFC 9562 pattern covers.
	doc.SetStringFormatValidator("uuid", openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringForUUIDOfRFC9562))
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatalf("route the OpenAPI document: %v", err)
	}
	return &contract{doc: doc, router: router, seen: map[string]bool{}}
}

// bearer accepts the document's bearer scheme when the request sends a
// bearer token: whether the token is good is the API's to say.
func bearer(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	if s := in.SecurityScheme; s.Type != "http" || s.Scheme != "bearer" {
		return fmt.Errorf("unexpected security scheme %s", in.SecuritySchemeName)
	}
	tok, ok := strings.CutPrefix(in.RequestValidationInput.Request.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		return errors.New("no bearer token")
	}
	return nil
}

func (c *contract) requestOptions() *openapi3filter.Options {
	return &openapi3filter.Options{AuthenticationFunc: bearer, SkipSettingDefaults: true,
		SchemaValidationOptions: c.doc.GetSchemaValidationOptions()}
}

func (c *contract) responseOptions() *openapi3filter.Options {
	return &openapi3filter.Options{IncludeResponseStatus: true, SchemaValidationOptions: c.doc.GetSchemaValidationOptions()}
}

// exchange is one request to the API and the status it must answer.
type exchange struct {
	method, path string
	token        string            // bearer token; none when empty
	body         any               // none when nil; a string or []byte as it is; else JSON
	header       map[string]string // request headers; Content-Type defaults to application/json with a body
	code         int
	// offDoc marks a request the document does not allow (a value
	// breaking a schema, no token, a media type it does not list): its
	// validation must fail. Every other request must validate.
	offDoc bool
}

func (x exchange) String() string { return x.method + " " + x.path }

// do sends x to h, checks the status, validates the request and the
// response against the document and returns the response.
func (c *contract) do(t *testing.T, h http.Handler, x exchange) *response {
	t.Helper()
	var raw []byte
	switch b := x.body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	case []byte:
		raw = b
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			t.Fatal(err)
		}
	}
	newRequest := func() *http.Request {
		var rd io.Reader
		if x.body != nil {
			rd = bytes.NewReader(raw)
		}
		req := httptest.NewRequest(x.method, x.path, rd)
		if x.body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		for k, v := range x.header {
			req.Header.Set(k, v)
		}
		if x.token != "" {
			req.Header.Set("Authorization", "Bearer "+x.token)
		}
		return req
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, newRequest())
	r := &response{code: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
	if r.code != x.code {
		t.Errorf("%s: status %d, want %d; body %s", x, r.code, x.code, r.body)
	}
	if r.header.Get("X-Request-Id") == "" {
		t.Errorf("%s: no X-Request-Id", x)
	}

	ctx := context.Background()
	route, params, err := c.router.FindRoute(newRequest())
	if err != nil {
		// Not in the document: the API's own 404 or 405 problem.
		if !x.offDoc {
			t.Errorf("%s: not in the document: %v", x, err)
		}
		c.checkUnrouted(t, x, r)
		return r
	}
	in := &openapi3filter.RequestValidationInput{Request: newRequest(), PathParams: params, Route: route, Options: c.requestOptions()}
	switch err := openapi3filter.ValidateRequest(ctx, in); {
	case err != nil && !x.offDoc:
		t.Errorf("%s: the document refuses the request: %v", x, err)
	case err == nil && x.offDoc:
		t.Errorf("%s: the document accepts a request it should refuse", x)
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: r.code, Header: r.header,
		Body: io.NopCloser(bytes.NewReader(r.body)), Options: c.responseOptions()}
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		t.Errorf("%s: the response breaks the document: %v\nbody: %s", x, err, r.body)
	}
	if ref := route.Operation.Responses.Status(r.code); ref != nil {
		if len(ref.Value.Content) == 0 && len(r.body) > 0 {
			t.Errorf("%s: status %d has no documented content but the body is %s", x, r.code, r.body)
		}
		// The headers a client acts on: where one is sent, the document
		// must list it.
		for _, h := range [...]string{"Location", "WWW-Authenticate", "Retry-After", "Allow"} {
			if r.header.Get(h) != "" && ref.Value.Headers[h] == nil {
				t.Errorf("%s: status %d sends %s, which the document does not list", x, r.code, h)
			}
		}
	}
	c.seen[fmt.Sprintf("%s %s %d", route.Method, route.Path, r.code)] = true
	return r
}

// checkUnrouted checks the answer to a request the document has no
// operation for: a problem, 404 or 405 with Allow.
func (c *contract) checkUnrouted(t *testing.T, x exchange, r *response) {
	t.Helper()
	if r.code != http.StatusNotFound && r.code != http.StatusMethodNotAllowed {
		t.Errorf("%s: not in the document, answered %d", x, r.code)
	}
	if r.code == http.StatusMethodNotAllowed && r.header.Get("Allow") == "" {
		t.Errorf("%s: 405 without Allow", x)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("%s: content type %q, want application/problem+json", x, ct)
	}
	c.checkSchema(t, x.String(), "Problem", r.body)
}

// checkSchema validates body against a component schema.
func (c *contract) checkSchema(t *testing.T, what, schema string, body []byte) {
	t.Helper()
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Errorf("%s: body %q: %v", what, body, err)
		return
	}
	opts := append(c.doc.GetSchemaValidationOptions(), openapi3.EnableJSONSchema2020())
	if err := c.doc.Components.Schemas[schema].Value.VisitJSON(v, opts...); err != nil {
		t.Errorf("%s: the body breaks schema %s: %v\nbody: %s", what, schema, err, body)
	}
}

// operations lists the document's operations as "METHOD path".
func (c *contract) operations() []string {
	var ops []string
	for path, item := range c.doc.Paths.Map() {
		for method := range item.Operations() {
			ops = append(ops, method+" "+path)
		}
	}
	sort.Strings(ops)
	return ops
}

// unseen lists the documented responses no exchange produced.
func (c *contract) unseen() []string {
	var out []string
	for path, item := range c.doc.Paths.Map() {
		for method, op := range item.Operations() {
			for code := range op.Responses.Map() {
				if k := method + " " + path + " " + code; !c.seen[k] {
					out = append(out, k)
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// fixtureTokens authenticates the fixture's principals.
func fixtureTokens(t *testing.T) *auth.Tokens {
	t.Helper()
	tokens, err := auth.NewTokens([]auth.Token{
		{Subject: "ops", Admin: true, Hash: auth.HashToken(opsToken)},
		{Subject: "alice", Hash: auth.HashToken(aliceToken)},
		{Subject: "bob", Hash: auth.HashToken(bobToken)},
	})
	if err != nil {
		t.Fatal(err)
	}
	return tokens
}

func newAPI(t *testing.T, cfg api.Config) *api.API {
	t.Helper()
	a, err := api.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// withBackfill returns cfg serving /v1/workspaces from st, with a keyring
// of its own: for the APIs that answer before any token is opened.
func withBackfill(t *testing.T, cfg api.Config, st store.Store) api.Config {
	t.Helper()
	key, err := keyring.GenerateKey("k1")
	if err != nil {
		t.Fatal(err)
	}
	kr, err := keyring.New(key)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Backfill, err = backfill.NewVault(st, kr,
		func(*store.Workspace, keyring.Secret) (backfill.Source, error) {
			return nil, errors.New("no source in these tests")
		})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Messages = st
	return cfg
}

func echoAgents() *agent.Registry {
	agents := agent.NewRegistry()
	agents.MustRegister("echo", agent.Func(func(_ context.Context, task *agent.Task) (*agent.Result, error) {
		return &agent.Result{Output: task.Payload, Summary: "echoed"}, nil
	}))
	return agents
}

const (
	slackSecret = "slack-signing-secret"
	unknownID   = "00000000-0000-0000-0000-000000000000"
	// sampleWorkspace is the workspace of the sample requests: the
	// conformance test registers it, so that the routes of a workspace
	// reach their body.
	sampleWorkspace = "T0SAMPLE"
)

// webhookSources serves every answer of the webhook endpoint.
func webhookSources(t *testing.T) []webhook.Source {
	t.Helper()
	slack, err := webhook.NewSlack([]string{slackSecret})
	if err != nil {
		t.Fatal(err)
	}
	return []webhook.Source{
		{Name: "hook", Verifier: webhook.Insecure(), Agent: "echo", Owner: "alice", DeliveryIDHeader: "X-Delivery-Id",
			KeepHeaders: []string{"Content-Type", "X-Delivery-Id"}},
		{Name: "small", Verifier: webhook.Insecure(), Agent: "echo", Owner: "alice", MaxBody: 16},
		{Name: "slack", Verifier: slack, Agent: "echo", Owner: "alice"},
		{Name: "flaky", Agent: "echo", Owner: "alice", Verifier: webhook.VerifierFunc(
			func(context.Context, http.Header, []byte) (*webhook.Verified, error) {
				return nil, errors.New("the key server is down")
			})},
		{Name: "broken", Agent: "echo", Owner: "alice", Verifier: webhook.VerifierFunc(
			func(context.Context, http.Header, []byte) (*webhook.Verified, error) { panic("verifier bug") })},
	}
}

// slackHeaders signs body as Slack does.
func slackHeaders(body string) map[string]string {
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	m := hmac.New(sha256.New, []byte(slackSecret))
	m.Write([]byte("v0:" + ts + ":" + body))
	return map[string]string{"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": "v0=" + hex.EncodeToString(m.Sum(nil))}
}

// sampleBody is a valid body of op ("METHOD /path"), or "" when it takes
// none.
func sampleBody(op string) string {
	switch op {
	case "POST /v1/schedules":
		return `{"name":"sample","agent":"echo","every":"1h"}`
	case "PATCH /v1/schedules/{id}":
		return `{"name":"renamed"}`
	case "POST /v1/schedules/{id}/pause", "POST /v1/schedules/{id}/resume", "POST /v1/schedules/{id}/run":
		return `{}`
	case "POST /v1/runs":
		return `{"agent":"echo"}`
	case "POST /v1/runs/{id}/cancel":
		return `{"reason":"sample"}`
	case "POST /v1/triggers/preview":
		return `{"cron":"0 9 * * *","count":2}`
	case "POST /v1/webhooks/{source}":
		return `{"sample":true}`
	case "PUT /v1/workspaces/{id}":
		return `{"bot_token":"xoxb-sample"}`
	case "POST /v1/workspaces/{id}/backfill":
		return `{"days_to_backfill":1}`
	}
	return ""
}

// sample is a request for op ("METHOD /path/{id}") with its sample body.
func sample(op string) exchange {
	method, path, _ := strings.Cut(op, " ")
	id := unknownID
	if strings.HasPrefix(path, "/v1/workspaces/") {
		id = sampleWorkspace
	}
	path = strings.NewReplacer("{id}", id, "{source}", "hook").Replace(path)
	if op == "GET /v1/workspaces/{id}/messages" {
		path += "?channel=C1" // required
	}
	x := exchange{method: method, path: path}
	if b := sampleBody(op); b != "" {
		x.body = b
	}
	return x
}

// TestOpenAPIConformance drives every route of the API through the answers
// its handlers give and validates each request and response against the
// OpenAPI document; every response the document lists must be produced.
func TestOpenAPIConformance(t *testing.T) {
	c := loadContract(t)
	f := newFixture(t, fixtureOptions{policy: scheduler.Policy{MaxActiveSchedules: 2}, webhooks: webhookSources(t), backfill: true})
	a := f.api
	do := func(t *testing.T, x exchange) *response {
		t.Helper()
		return c.do(t, a, x)
	}
	var s1, s2 api.Schedule

	t.Run("meta", func(t *testing.T) {
		do(t, exchange{method: "GET", path: "/healthz", code: 200})
		do(t, exchange{method: "GET", path: "/readyz", code: 200})
		r := do(t, exchange{method: "GET", path: "/v1/openapi.json", code: 200})
		if !bytes.Equal(r.body, api.OpenAPI()) {
			t.Errorf("GET /v1/openapi.json does not serve the embedded document")
		}
		metrics := newAPI(t, api.Config{Scheduler: f.h.Scheduler, Authenticator: fixtureTokens(t),
			MetricsHandler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
				_, _ = io.WriteString(w, "# TYPE herald_up gauge\nherald_up 1\n")
			})})
		c.do(t, metrics, exchange{method: "GET", path: "/metrics", code: 200})

		// A scheduler that is not started is not ready.
		st := memstore.New(memstore.Options{})
		t.Cleanup(func() { _ = st.Close() })
		idle, err := scheduler.New(st, scheduler.Config{Agents: echoAgents()})
		if err != nil {
			t.Fatal(err)
		}
		r = c.do(t, newAPI(t, api.Config{Scheduler: idle, Authenticator: fixtureTokens(t)}), exchange{method: "GET", path: "/readyz", code: 503})
		var st503 api.Status
		r.decode(t, &st503)
		if st503.Status != "unavailable" || st503.Error != "scheduler not started" {
			t.Errorf("readyz %+v", st503)
		}
	})

	t.Run("schedules", func(t *testing.T) {
		do(t, exchange{method: "POST", path: "/v1/schedules", token: aliceToken, code: 201, body: map[string]any{
			"name": "report", "agent": "echo", "payload": map[string]any{"k": 1}, "cron": "0 9 * * 1-5",
			"timezone": "Europe/Paris", "start": "2026-01-01T00:00:00Z", "end": "2027-01-01T00:00:00+01:00", "jitter": "1m",
			"deliver": []map[string]any{{"channel": "log", "to": "ops@example.com", "on": "failure"}},
			"overlap": "buffer_one", "misfire": "run_all", "misfire_cap": 3, "timeout": "5m", "max_attempts": 2, "paused": false,
			"owner": nil,
		}}).decode(t, &s1)
		if s1.Jitter == nil || s1.Start == nil || s1.End == nil || s1.MisfireCap == nil || s1.Timeout == nil || s1.MaxAttempts == nil {
			t.Fatalf("created %+v: want every optional field set", s1)
		}
		do(t, exchange{method: "POST", path: "/v1/schedules", token: opsToken, code: 201,
			body: map[string]any{"name": "hourly", "agent": "echo", "every": "1h", "deliver": []map[string]any{{"channel": "log"}}}}).decode(t, &s2)
		var once api.Schedule
		do(t, exchange{method: "POST", path: "/v1/schedules", token: opsToken, code: 201,
			body: map[string]any{"name": "once", "agent": "echo", "at": "2026-06-01T12:00:00+02:00", "owner": "ops"}}).decode(t, &once)
		if once.At == nil {
			t.Errorf("once %+v", once)
		}

		for _, x := range []exchange{
			{body: map[string]any{"name": "x", "agent": "echo", "every": "1h", "owner": "ops"}, code: 403},
			{body: map[string]any{"name": "x", "agent": "echo", "cron": "61 * * * *"}, code: 400},
			{body: map[string]any{"name": "x", "agent": "nope", "every": "1h"}, code: 400},
			{body: map[string]any{"name": "x", "agent": "echo"}, code: 400},
			{body: map[string]any{"name": "x", "agent": "echo", "every": "1h", "cronn": "x"}, code: 400, offDoc: true},
			{body: map[string]any{"name": "x", "agent": "echo", "every": "1h", "version": 1}, code: 400, offDoc: true},
			{body: map[string]any{"name": 5, "agent": "echo", "every": "1h"}, code: 400, offDoc: true},
			{body: map[string]any{"name": "x", "agent": "echo", "every": "1h", "overlap": "maybe"}, code: 400, offDoc: true},
			{body: map[string]any{"name": "x", "agent": "echo", "every": "1h", "max_attempts": -1}, code: 400, offDoc: true},
			{body: map[string]any{"name": "x", "agent": "echo", "every": "1h", "payload": "text"}, code: 400, offDoc: true},
			{body: `{"name": "x",`, code: 400, offDoc: true},
			{body: ``, code: 400, offDoc: true},
			{body: map[string]any{"name": "report", "agent": "echo", "every": "1h"}, code: 409},
		} {
			x.method, x.path, x.token = "POST", "/v1/schedules", aliceToken
			do(t, x)
		}
		// Alice's limit is 2 active schedules.
		do(t, exchange{method: "POST", path: "/v1/schedules", token: aliceToken, code: 201, body: map[string]any{"name": "second", "agent": "echo", "every": "1h"}})
		r := do(t, exchange{method: "POST", path: "/v1/schedules", token: aliceToken, code: 409, body: map[string]any{"name": "third", "agent": "echo", "every": "1h"}})
		if p := r.problem(t); p.Type != "urn:herald:problem:limit-reached" {
			t.Errorf("third schedule: %+v", p)
		}
		var parked api.Schedule
		do(t, exchange{method: "POST", path: "/v1/schedules", token: aliceToken, code: 201,
			body: map[string]any{"name": "parked", "agent": "echo", "every": "1h", "paused": true}}).decode(t, &parked)

		var list api.ScheduleList
		do(t, exchange{method: "GET", path: "/v1/schedules", token: aliceToken, code: 200}).decode(t, &list)
		do(t, exchange{method: "GET", path: "/v1/schedules?limit=1&owner=ops", token: opsToken, code: 200}).decode(t, &list)
		if list.NextCursor == nil {
			t.Fatalf("page of 1 of 2: no next cursor")
		}
		do(t, exchange{method: "GET", path: "/v1/schedules?limit=1&owner=ops&cursor=" + *list.NextCursor, token: opsToken, code: 200})
		do(t, exchange{method: "GET", path: "/v1/schedules?name=report", token: aliceToken, code: 200})
		do(t, exchange{method: "GET", path: "/v1/schedules?owner=ops", token: aliceToken, code: 403})
		do(t, exchange{method: "GET", path: "/v1/schedules?limit=0", token: aliceToken, code: 400, offDoc: true})
		do(t, exchange{method: "GET", path: "/v1/schedules?cursor=nope", token: aliceToken, code: 400})

		do(t, exchange{method: "GET", path: "/v1/schedules/" + s1.ID, token: aliceToken, code: 200})
		do(t, exchange{method: "GET", path: "/v1/schedules/" + s2.ID, token: aliceToken, code: 404})
		do(t, exchange{method: "GET", path: "/v1/schedules/" + unknownID, token: aliceToken, code: 404})

		patch := exchange{method: "PATCH", path: "/v1/schedules/" + s1.ID, token: aliceToken}
		for _, x := range []exchange{
			{body: `{"every":"2h","jitter":null,"payload":[1,2]}`, header: map[string]string{"Content-Type": "application/merge-patch+json"}, code: 200},
			{body: map[string]any{"cron": "0 9 * * 1-5", "version": s1.Version}, code: 409},
			{body: map[string]any{"owner": "bob"}, code: 400, offDoc: true},
			{body: map[string]any{"name": 5}, code: 400, offDoc: true},
			{body: map[string]any{"every": "soon"}, code: 400},
			{body: map[string]any{"every": nil}, code: 400},
		} {
			x.method, x.path, x.token = patch.method, patch.path, patch.token
			do(t, x)
		}
		do(t, exchange{method: "PATCH", path: "/v1/schedules/" + unknownID, token: aliceToken, body: `{"name":"x"}`, code: 404})
		// Unpausing by a patch counts against the limit too.
		do(t, exchange{method: "PATCH", path: "/v1/schedules/" + parked.ID, token: aliceToken, body: `{"paused":false}`, code: 409})

		for _, action := range []string{"pause", "resume"} {
			do(t, exchange{method: "POST", path: "/v1/schedules/" + s1.ID + "/" + action, token: aliceToken, code: 200})
			do(t, exchange{method: "POST", path: "/v1/schedules/" + s1.ID + "/" + action, token: aliceToken, body: `{}`, code: 200})
			do(t, exchange{method: "POST", path: "/v1/schedules/" + s1.ID + "/" + action, token: aliceToken, body: `{"now":true}`, code: 400, offDoc: true})
			do(t, exchange{method: "POST", path: "/v1/schedules/" + unknownID + "/" + action, token: aliceToken, code: 404})
		}
		do(t, exchange{method: "POST", path: "/v1/schedules/" + parked.ID + "/resume", token: aliceToken, code: 409})

		do(t, exchange{method: "POST", path: "/v1/schedules/" + s1.ID + "/run", token: aliceToken, code: 202})
		do(t, exchange{method: "POST", path: "/v1/schedules/" + s1.ID + "/run", token: aliceToken, body: `[]`, code: 400, offDoc: true})
		do(t, exchange{method: "POST", path: "/v1/schedules/" + unknownID + "/run", token: aliceToken, code: 404})

		do(t, exchange{method: "POST", path: "/v1/triggers/preview", token: aliceToken, code: 200, body: map[string]any{
			"cron": "30 2 * * *", "timezone": "America/New_York", "start": "2026-03-01T00:00:00Z", "end": "2026-04-01T00:00:00Z",
			"from": "2026-03-07T12:00:00Z", "count": 3, "every": nil, "at": nil,
		}})
		do(t, exchange{method: "POST", path: "/v1/triggers/preview", token: aliceToken, code: 200, body: map[string]any{"at": "2026-02-01T00:00:00Z"}})
		do(t, exchange{method: "POST", path: "/v1/triggers/preview", token: aliceToken, code: 400, body: map[string]any{"cron": "bad"}})
		do(t, exchange{method: "POST", path: "/v1/triggers/preview", token: aliceToken, code: 400, body: map[string]any{"cron": "0 0 * * *", "count": 1001}, offDoc: true})
		do(t, exchange{method: "POST", path: "/v1/triggers/preview", token: aliceToken, code: 400, body: map[string]any{"cron": "0 0 * * *", "jitter": "1m"}, offDoc: true})

		do(t, exchange{method: "DELETE", path: "/v1/schedules/" + parked.ID, token: aliceToken, code: 204})
		do(t, exchange{method: "DELETE", path: "/v1/schedules/" + parked.ID, token: aliceToken, code: 404})
	})

	t.Run("static schedules", func(t *testing.T) {
		h := schedulertest.New(t, scheduler.Config{Agents: echoAgents(), Static: []*store.Schedule{{
			Name: "nightly", Owner: "alice", Agent: "echo", Trigger: store.Trigger{Kind: store.TriggerCron, Cron: "0 3 * * *"},
		}}})
		sa := newAPI(t, api.Config{Scheduler: h.Scheduler, Authenticator: fixtureTokens(t)})
		var list api.ScheduleList
		c.do(t, sa, exchange{method: "GET", path: "/v1/schedules", token: aliceToken, code: 200}).decode(t, &list)
		if len(list.Schedules) != 1 || !list.Schedules[0].Static {
			t.Fatalf("static schedules %+v", list.Schedules)
		}
		id := list.Schedules[0].ID
		c.do(t, sa, exchange{method: "PATCH", path: "/v1/schedules/" + id, token: aliceToken, body: `{"name":"daily"}`, code: 409})
		c.do(t, sa, exchange{method: "DELETE", path: "/v1/schedules/" + id, token: aliceToken, code: 409})
		c.do(t, sa, exchange{method: "POST", path: "/v1/schedules/" + id + "/pause", token: aliceToken, code: 409})
		c.do(t, sa, exchange{method: "POST", path: "/v1/schedules/" + id + "/resume", token: aliceToken, code: 409})
	})

	t.Run("runs", func(t *testing.T) {
		// The hourly schedule fires: a schedule run with every field set.
		f.h.Advance(time.Hour)
		fired := f.h.Runs(store.RunListParams{ScheduleID: s2.ID})
		if len(fired) != 1 {
			t.Fatalf("hourly schedule: %d runs", len(fired))
		}
		f.h.WaitFinished(fired[0].ID, store.RunSucceeded)
		waitDeliveries(t, f, fired[0].ID)
		var detail api.RunDetail
		do(t, exchange{method: "GET", path: "/v1/runs/" + fired[0].ID, token: opsToken, code: 200}).decode(t, &detail)
		if detail.ScheduledFor == nil || detail.Duration == nil || len(detail.Deliveries) == 0 {
			t.Errorf("schedule run %+v", detail)
		}
		var sch api.Schedule
		do(t, exchange{method: "GET", path: "/v1/schedules/" + s2.ID, token: opsToken, code: 200}).decode(t, &sch)
		if sch.LastRunAt == nil {
			t.Errorf("fired schedule without last_run_at: %+v", sch)
		}

		var acc api.RunAccepted
		do(t, exchange{method: "POST", path: "/v1/runs", token: aliceToken, code: 202, body: map[string]any{
			"agent": "echo", "owner": "alice", "payload": map[string]any{"x": 1}, "idempotency_key": "k1",
			"deliver": []map[string]any{{"channel": "log", "to": "a", "on": "always"}},
			"run_at":  "2026-01-01T01:00:00Z", "timeout": "1m", "max_attempts": 2,
		}}).decode(t, &acc)
		f.h.WaitFinished(acc.RunID, store.RunSucceeded)
		waitDeliveries(t, f, acc.RunID)
		do(t, exchange{method: "GET", path: "/v1/runs/" + acc.RunID, token: aliceToken, code: 200}).decode(t, &detail)
		if detail.IdempotencyKey == nil || detail.Timeout == nil || detail.Summary == nil || len(detail.Deliveries) == 0 {
			t.Errorf("enqueued run %+v", detail)
		}
		do(t, exchange{method: "GET", path: "/v1/runs/" + acc.RunID, token: bobToken, code: 404})
		do(t, exchange{method: "GET", path: "/v1/runs/" + unknownID, token: aliceToken, code: 404})

		var sleeper api.RunAccepted
		do(t, exchange{method: "POST", path: "/v1/runs", token: aliceToken, code: 202, body: map[string]any{"agent": "sleep"}}).decode(t, &sleeper)
		f.h.WaitRun(sleeper.RunID, store.RunRunning)
		cancel := "/v1/runs/" + sleeper.RunID + "/cancel"
		do(t, exchange{method: "POST", path: cancel, token: aliceToken, body: map[string]any{"reason": strings.Repeat("r", 1001)}, code: 400, offDoc: true})
		do(t, exchange{method: "POST", path: cancel, token: aliceToken, body: map[string]any{"why": "x"}, code: 400, offDoc: true})
		do(t, exchange{method: "POST", path: cancel, token: aliceToken, body: map[string]any{"reason": "stop"}, code: 200})
		f.h.WaitFinished(sleeper.RunID, store.RunCancelled)
		do(t, exchange{method: "POST", path: cancel, token: aliceToken, code: 409})
		do(t, exchange{method: "POST", path: "/v1/runs/" + unknownID + "/cancel", token: aliceToken, code: 404})
		do(t, exchange{method: "GET", path: "/v1/runs/" + sleeper.RunID, token: aliceToken, code: 200}).decode(t, &detail)
		if detail.Error == nil || !detail.CancelRequested {
			t.Errorf("cancelled run %+v", detail)
		}

		for _, x := range []exchange{
			{body: map[string]any{"agent": "echo", "owner": "ops"}, code: 403},
			{body: map[string]any{"agent": "nope"}, code: 400},
			{body: map[string]any{"agent": "echo", "timeout": "soon"}, code: 400},
			{body: map[string]any{"agent": "echo", "deliver": []map[string]any{{"channel": "pager"}}}, code: 400},
			{body: map[string]any{"agent": ""}, code: 400, offDoc: true},
			{body: map[string]any{"agent": "echo", "retries": 3}, code: 400, offDoc: true},
			{body: map[string]any{"agent": "echo", "run_at": "tomorrow"}, code: 400, offDoc: true},
		} {
			x.method, x.path, x.token = "POST", "/v1/runs", aliceToken
			do(t, x)
		}

		var runs api.RunList
		do(t, exchange{method: "GET", path: "/v1/runs", token: aliceToken, code: 200})
		do(t, exchange{method: "GET", path: "/v1/runs?schedule_id=" + s2.ID + "&status=succeeded,failed&kind=schedule,manual&agent=echo&owner=ops" +
			"&since=2026-01-01T00:00:00Z&until=2027-01-01T00:00:00Z&limit=10", token: opsToken, code: 200}).decode(t, &runs)
		if len(runs.Runs) != 1 {
			t.Errorf("filtered runs %+v", runs)
		}
		do(t, exchange{method: "GET", path: "/v1/runs?limit=1", token: opsToken, code: 200}).decode(t, &runs)
		if runs.NextCursor == nil {
			t.Fatal("page of 1: no next cursor")
		}
		do(t, exchange{method: "GET", path: "/v1/runs?limit=1&cursor=" + *runs.NextCursor, token: opsToken, code: 200})
		do(t, exchange{method: "GET", path: "/v1/runs?schedule_id=not-an-id", token: opsToken, code: 200})
		do(t, exchange{method: "GET", path: "/v1/runs?owner=ops", token: aliceToken, code: 403})
		do(t, exchange{method: "GET", path: "/v1/runs?status=done", token: aliceToken, code: 400, offDoc: true})
		do(t, exchange{method: "GET", path: "/v1/runs?kind=cron", token: aliceToken, code: 400, offDoc: true})
		do(t, exchange{method: "GET", path: "/v1/runs?since=yesterday", token: aliceToken, code: 400, offDoc: true})
		do(t, exchange{method: "GET", path: "/v1/runs?limit=1001", token: aliceToken, code: 400, offDoc: true})
	})

	t.Run("webhooks and events", func(t *testing.T) {
		hook := exchange{method: "POST", path: "/v1/webhooks/hook", body: `{"action":"opened"}`, header: map[string]string{"X-Delivery-Id": "d1"}, code: 200}
		var rc, dup struct {
			Received  bool   `json:"received"`
			EventID   string `json:"event_id"`
			RunID     string `json:"run_id"`
			Duplicate bool   `json:"duplicate"`
		}
		do(t, hook).decode(t, &rc)
		do(t, hook).decode(t, &dup)
		if !rc.Received || rc.Duplicate || !dup.Duplicate || dup.EventID != rc.EventID || dup.RunID != rc.RunID {
			t.Errorf("receipts %+v then %+v", rc, dup)
		}
		f.h.WaitFinished(rc.RunID, store.RunSucceeded)
		do(t, exchange{method: "POST", path: "/v1/webhooks/hook", body: []byte{0xff, 0xfe, 0x00, 0x01}, code: 200,
			header: map[string]string{"Content-Type": "application/octet-stream", "X-Delivery-Id": "d2"}})
		do(t, exchange{method: "POST", path: "/v1/webhooks/hook", body: `{}`, code: 400, header: map[string]string{"X-Delivery-Id": strings.Repeat("d", 300)}})
		do(t, exchange{method: "POST", path: "/v1/webhooks/Not_A_Source", body: `{}`, code: 400, offDoc: true})
		do(t, exchange{method: "POST", path: "/v1/webhooks/nope", body: `{}`, code: 404})
		do(t, exchange{method: "POST", path: "/v1/webhooks/small", body: `{"this body is":"too large"}`, code: 413})
		do(t, exchange{method: "POST", path: "/v1/webhooks/slack", body: `{"type":"event_callback"}`, code: 401})
		challenge := `{"type":"url_verification","challenge":"c-123"}`
		r := do(t, exchange{method: "POST", path: "/v1/webhooks/slack", body: challenge, header: slackHeaders(challenge), code: 200})
		if string(bytes.TrimSpace(r.body)) != `{"challenge":"c-123"}` {
			t.Errorf("slack challenge answered %s", r.body)
		}
		do(t, exchange{method: "POST", path: "/v1/webhooks/flaky", body: `{}`, code: 503})
		do(t, exchange{method: "POST", path: "/v1/webhooks/broken", body: `{}`, code: 500})
		do(t, exchange{method: "GET", path: "/v1/webhooks/hook", code: 405, offDoc: true})

		var runs api.RunList
		do(t, exchange{method: "GET", path: "/v1/runs?kind=webhook", token: aliceToken, code: 200}).decode(t, &runs)
		if len(runs.Runs) != 2 || runs.Runs[0].EventID == nil {
			t.Errorf("webhook runs %+v", runs)
		}

		var events api.EventList
		do(t, exchange{method: "GET", path: "/v1/events", token: aliceToken, code: 200}).decode(t, &events)
		if len(events.Events) != 2 {
			t.Fatalf("events %+v", events)
		}
		do(t, exchange{method: "GET", path: "/v1/events?source=hook&owner=alice&since=2026-01-01T00:00:00Z&until=2027-01-01T00:00:00Z&limit=1",
			token: opsToken, code: 200}).decode(t, &events)
		if events.NextCursor == nil {
			t.Fatal("page of 1 of 2: no next cursor")
		}
		do(t, exchange{method: "GET", path: "/v1/events?limit=1&cursor=" + *events.NextCursor, token: opsToken, code: 200})
		do(t, exchange{method: "GET", path: "/v1/events?owner=ops", token: aliceToken, code: 403})
		do(t, exchange{method: "GET", path: "/v1/events?limit=abc", token: aliceToken, code: 400, offDoc: true})
		do(t, exchange{method: "GET", path: "/v1/events?source=" + strings.Repeat("s", 64), token: aliceToken, code: 400, offDoc: true})

		for _, id := range []string{rc.EventID, events.Events[0].ID} {
			var e api.Event
			do(t, exchange{method: "GET", path: "/v1/events/" + id, token: opsToken, code: 200}).decode(t, &e)
			if e.Body == nil || e.BodyEncoding == nil || e.Headers == nil || e.RunID == nil {
				t.Errorf("event for an admin %+v", e)
			}
		}
		var own api.Event
		do(t, exchange{method: "GET", path: "/v1/events/" + rc.EventID, token: aliceToken, code: 200}).decode(t, &own)
		if own.Body != nil || own.Headers != nil {
			t.Errorf("event for its owner shows body or headers: %+v", own)
		}
		do(t, exchange{method: "GET", path: "/v1/events/" + rc.EventID, token: bobToken, code: 404})
		do(t, exchange{method: "GET", path: "/v1/events/" + unknownID, token: opsToken, code: 404})
	})

	t.Run("workspaces", func(t *testing.T) {
		put := exchange{method: "PUT", path: "/v1/workspaces/T0ACME", token: opsToken,
			body: map[string]any{"name": "Acme", "bot_token": botToken, "owner": "bob"}}
		var ws api.Workspace
		put.code = 201
		r := do(t, put)
		r.decode(t, &ws)
		if ws.ID != "T0ACME" || ws.Owner != "bob" || ws.Source != "slack" || ws.KeyID != "k1" {
			t.Errorf("created %+v", ws)
		}
		// The token is write-only: no answer shows it, and a workspace
		// showing it would break the document.
		if strings.Contains(string(r.body), botToken) {
			t.Errorf("PUT shows the token: %s", r.body)
		}
		var shown map[string]any
		r.decode(t, &shown)
		shown["bot_token"] = botToken
		if err := c.doc.Components.Schemas["Workspace"].Value.VisitJSON(shown,
			append(c.doc.GetSchemaValidationOptions(), openapi3.EnableJSONSchema2020())...); err == nil {
			t.Error("the Workspace schema admits a bot_token")
		}
		put.code = 200
		do(t, put)
		put.token, put.code = bobToken, 403
		do(t, put)
		do(t, exchange{method: "PUT", path: "/v1/workspaces/" + sampleWorkspace, token: opsToken, code: 201, body: sampleBody("PUT /v1/workspaces/{id}")})
		for _, x := range []exchange{
			{body: map[string]any{"bot_token": botToken, "name": "tab\there"}, code: 400},
			{body: map[string]any{"name": "no token"}, code: 400, offDoc: true},
			{body: map[string]any{"bot_token": "has space"}, code: 400, offDoc: true},
			{body: map[string]any{"bot_token": botToken, "extra": 1}, code: 400, offDoc: true},
			{body: ``, code: 400, offDoc: true},
			{path: "/v1/workspaces/bad%20id", body: map[string]any{"bot_token": botToken}, code: 400, offDoc: true},
		} {
			x.method, x.token = "PUT", opsToken
			x.path = cmp.Or(x.path, "/v1/workspaces/T0ACME")
			do(t, x)
		}

		var list api.WorkspaceList
		r = do(t, exchange{method: "GET", path: "/v1/workspaces", token: bobToken, code: 200})
		r.decode(t, &list)
		if len(list.Workspaces) != 1 || list.Workspaces[0].ID != "T0ACME" || strings.Contains(string(r.body), botToken) {
			t.Errorf("bob's workspaces %s", r.body)
		}
		do(t, exchange{method: "GET", path: "/v1/workspaces?limit=1", token: opsToken, code: 200}).decode(t, &list)
		if list.NextCursor == nil {
			t.Fatal("page of 1 of 2: no next cursor")
		}
		do(t, exchange{method: "GET", path: "/v1/workspaces?owner=ops&limit=1&cursor=" + *list.NextCursor, token: opsToken, code: 200}).decode(t, &list)
		if len(list.Workspaces) != 1 || list.Workspaces[0].ID != sampleWorkspace || list.NextCursor != nil {
			t.Errorf("second page %+v", list)
		}
		do(t, exchange{method: "GET", path: "/v1/workspaces?owner=ops", token: bobToken, code: 403})
		do(t, exchange{method: "GET", path: "/v1/workspaces?limit=0", token: bobToken, code: 400, offDoc: true})

		do(t, exchange{method: "GET", path: "/v1/workspaces/T0ACME", token: bobToken, code: 200})
		do(t, exchange{method: "GET", path: "/v1/workspaces/T0ACME", token: aliceToken, code: 404})
		do(t, exchange{method: "GET", path: "/v1/workspaces/T0NONE", token: opsToken, code: 404})
		do(t, exchange{method: "GET", path: "/v1/workspaces/bad%20id", token: opsToken, code: 404, offDoc: true})

		// Backfill now: a run of the owner's, the workspace in its payload.
		var acc api.RunAccepted
		do(t, exchange{method: "POST", path: "/v1/workspaces/T0ACME/backfill", token: bobToken, code: 202}).decode(t, &acc)
		do(t, exchange{method: "POST", path: "/v1/workspaces/T0ACME/backfill", token: opsToken, code: 202, body: map[string]any{
			"since": "2026-01-01T00:00:00Z", "include_all_channels": false, "channel_ids": []string{"C1"}, "include_threads": false,
			"days_to_backfill": nil}}).decode(t, &acc)
		f.h.WaitFinished(acc.RunID, store.RunSucceeded)
		var detail api.RunDetail
		do(t, exchange{method: "GET", path: "/v1/runs/" + acc.RunID, token: bobToken, code: 200}).decode(t, &detail)
		if detail.Owner != "bob" || detail.Agent != backfill.AgentName {
			t.Errorf("backfill run %+v", detail)
		}
		payload, _ := json.Marshal(detail.Payload)
		c.checkSchema(t, "the payload of a backfill run", "BackfillPayload", payload)
		if !strings.Contains(string(payload), `"workspace_id":"T0ACME"`) {
			t.Errorf("backfill run payload %s", payload)
		}
		for _, x := range []exchange{
			{body: map[string]any{"days_to_backfill": 3, "since": "2026-01-01T00:00:00Z"}, code: 400},
			{body: map[string]any{"include_all_channels": false}, code: 400},
			{body: map[string]any{"days_to_backfill": 0}, code: 400, offDoc: true},
			{body: map[string]any{"workspace_id": sampleWorkspace}, code: 400, offDoc: true},
			{body: map[string]any{"days_to_backfill": 1}, token: aliceToken, code: 404},
			{path: "/v1/workspaces/T0NONE/backfill", code: 404},
		} {
			x.method, x.token = "POST", cmp.Or(x.token, bobToken)
			x.path = cmp.Or(x.path, "/v1/workspaces/T0ACME/backfill")
			do(t, x)
		}

		// Messages, one channel at a time.
		if _, err := f.h.Store.MessageUpsert(context.Background(),
			&store.Message{Source: "slack", Workspace: "T0ACME", Channel: "C1", TS: "1767225600.000100", User: "U1", UserName: "ann",
				Text: "hello", Raw: json.RawMessage(`{"type":"message","text":"hello"}`)},
			&store.Message{Source: "slack", Workspace: "T0ACME", Channel: "C1", TS: "1767225700.000200", ThreadTS: "1767225600.000100",
				Text: "reply"}); err != nil {
			t.Fatal(err)
		}
		var msgs api.MessageList
		do(t, exchange{method: "GET", path: "/v1/workspaces/T0ACME/messages?channel=C1", token: bobToken, code: 200}).decode(t, &msgs)
		if len(msgs.Messages) != 2 || msgs.Messages[0].UserName == nil || string(msgs.Messages[1].Raw) != "null" || msgs.NextCursor != nil {
			t.Fatalf("messages %+v", msgs)
		}
		do(t, exchange{method: "GET", path: "/v1/workspaces/T0ACME/messages?channel=C1&limit=1", token: opsToken, code: 200}).decode(t, &msgs)
		if msgs.NextCursor == nil {
			t.Fatal("page of 1 of 2: no next cursor")
		}
		do(t, exchange{method: "GET", path: "/v1/workspaces/T0ACME/messages?channel=C1&cursor=" + *msgs.NextCursor, token: bobToken, code: 200}).decode(t, &msgs)
		if len(msgs.Messages) != 1 || msgs.Messages[0].ThreadTS == nil {
			t.Errorf("after the cursor %+v", msgs)
		}
		do(t, exchange{method: "GET", path: "/v1/workspaces/T0ACME/messages?channel=C1&since=2026-01-01T00:01:00Z", token: bobToken, code: 200}).decode(t, &msgs)
		if len(msgs.Messages) != 1 || msgs.Messages[0].TS != "1767225700.000200" {
			t.Errorf("since %+v", msgs)
		}
		do(t, exchange{method: "GET", path: "/v1/workspaces/T0ACME/messages?channel=C%01", token: bobToken, code: 400})
		do(t, exchange{method: "GET", path: "/v1/workspaces/T0ACME/messages", token: bobToken, code: 400, offDoc: true})
		do(t, exchange{method: "GET", path: "/v1/workspaces/T0ACME/messages?channel=C1&since=yesterday", token: bobToken, code: 400, offDoc: true})
		do(t, exchange{method: "GET", path: "/v1/workspaces/T0ACME/messages?channel=C1", token: aliceToken, code: 404})

		// A backfill run or schedule reads a workspace of its owner's,
		// with a valid payload; one active backfill schedule per workspace.
		backfillRun := func(token string, payload map[string]any, code int) *response {
			return do(t, exchange{method: "POST", path: "/v1/runs", token: token, code: code,
				body: map[string]any{"agent": backfill.AgentName, "payload": payload}})
		}
		wantField := func(r *response, field string) {
			t.Helper()
			if p := r.problem(t); len(p.Errors) == 0 || p.Errors[0].Field != field {
				t.Errorf("errors %+v, want %s", p.Errors, field)
			}
		}
		wantField(backfillRun(aliceToken, map[string]any{"workspace_id": "T0ACME"}, 400), "payload.workspace_id")
		wantField(backfillRun(bobToken, map[string]any{"workspace_id": "T0ACME", "days_to_backfill": 0}, 400), "payload.days_to_backfill")
		backfillRun(bobToken, map[string]any{"workspace_id": "T0ACME"}, 202)

		payload = []byte(`{"workspace_id":"T0ACME","days_to_backfill":7}`)
		c.checkSchema(t, "a backfill schedule's payload", "BackfillPayload", payload)
		sched := map[string]any{"name": "nightly", "agent": backfill.AgentName, "cron": "0 2 * * *", "payload": json.RawMessage(payload)}
		do(t, exchange{method: "POST", path: "/v1/schedules", token: bobToken, code: 201, body: sched})
		sched["name"] = "again"
		r = do(t, exchange{method: "POST", path: "/v1/schedules", token: bobToken, code: 409, body: sched})
		if p := r.problem(t); p.Type != "urn:herald:problem:conflict" || !strings.Contains(p.Detail, "already has an active backfill schedule") {
			t.Errorf("second active backfill schedule: %+v", p)
		}
		sched["paused"] = true
		var spare api.Schedule
		do(t, exchange{method: "POST", path: "/v1/schedules", token: bobToken, code: 201, body: sched}).decode(t, &spare)
		do(t, exchange{method: "PATCH", path: "/v1/schedules/" + spare.ID, token: bobToken, code: 409, body: `{"paused":false}`})
		do(t, exchange{method: "POST", path: "/v1/schedules/" + spare.ID + "/resume", token: bobToken, code: 409})
		wantField(do(t, exchange{method: "PATCH", path: "/v1/schedules/" + spare.ID, token: bobToken, code: 400,
			body: `{"payload":{"workspace_id":"T0NONE"}}`}), "payload.workspace_id")
		sched["name"], sched["payload"] = "theirs", map[string]any{"workspace_id": sampleWorkspace}
		wantField(do(t, exchange{method: "POST", path: "/v1/schedules", token: bobToken, code: 400, body: sched}), "payload.workspace_id")

		// Only an admin deletes a workspace; its owner is refused.
		do(t, exchange{method: "DELETE", path: "/v1/workspaces/T0ACME", token: bobToken, code: 403})
		do(t, exchange{method: "DELETE", path: "/v1/workspaces/T0ACME", token: aliceToken, code: 404})
		do(t, exchange{method: "DELETE", path: "/v1/workspaces/T0ACME", token: opsToken, code: 204})
		do(t, exchange{method: "DELETE", path: "/v1/workspaces/T0ACME", token: opsToken, code: 404})
		do(t, exchange{method: "DELETE", path: "/v1/workspaces/bad%20id", token: opsToken, code: 404, offDoc: true})
		do(t, exchange{method: "GET", path: "/v1/workspaces/T0ACME", token: bobToken, code: 404})
	})

	t.Run("registry", func(t *testing.T) {
		do(t, exchange{method: "GET", path: "/v1/agents", token: aliceToken, code: 200})
		do(t, exchange{method: "GET", path: "/v1/channels", token: aliceToken, code: 200})
	})

	t.Run("summary", func(t *testing.T) {
		do(t, exchange{method: "GET", path: "/v1/summary", token: aliceToken, code: 200})
		do(t, exchange{method: "GET", path: "/v1/summary?owner=alice&since=" + url.QueryEscape(f.h.Clock.Now().Add(-time.Hour).Format(time.RFC3339)), token: opsToken, code: 200})
		do(t, exchange{method: "GET", path: "/v1/summary?since=yesterday", token: aliceToken, code: 400, offDoc: true})
		do(t, exchange{method: "GET", path: "/v1/summary?since=2020-01-01T00:00:00Z", token: aliceToken, code: 400})
		do(t, exchange{method: "GET", path: "/v1/summary?owner=bob", token: aliceToken, code: 403})
	})

	t.Run("unrouted", func(t *testing.T) {
		do(t, exchange{method: "GET", path: "/v1/nothing", token: aliceToken, code: 404, offDoc: true})
		do(t, exchange{method: "PUT", path: "/v1/runs", token: aliceToken, code: 405, offDoc: true})
		do(t, exchange{method: "DELETE", path: "/v1/runs/" + unknownID, token: aliceToken, code: 405, offDoc: true})
	})

	// The answers every authenticated route shares, route by route.
	// They serve the workspaces of the fixture's store too.
	limited := newAPI(t, withBackfill(t, api.Config{Scheduler: f.h.Scheduler, Authenticator: fixtureTokens(t),
		RateLimit: api.RateLimit{PerSecond: 1e-6, Burst: 1}, Clock: f.h.Clock}, f.h.Store))
	c.do(t, limited, exchange{method: "GET", path: "/v1/agents", token: opsToken, code: 200}) // the one request allowed
	unavailable := newAPI(t, withBackfill(t, api.Config{Scheduler: f.h.Scheduler, Authenticator: api.AuthenticatorFunc(
		func(*http.Request) (scheduler.Principal, error) {
			return scheduler.Principal{}, fmt.Errorf("fetch the key set: %w", auth.ErrUnavailable)
		})}, f.h.Store))
	panicking := newAPI(t, withBackfill(t, api.Config{Scheduler: f.h.Scheduler, Authenticator: api.AuthenticatorFunc(
		func(*http.Request) (scheduler.Principal, error) { panic("authenticator bug") })}, f.h.Store))
	small := newAPI(t, withBackfill(t, api.Config{Scheduler: f.h.Scheduler, Authenticator: fixtureTokens(t), MaxBody: 64}, f.h.Store))
	for _, op := range c.operations() {
		method, path, _ := strings.Cut(op, " ")
		o := c.doc.Paths.Value(path).GetOperation(method)
		if o.Security != nil && len(*o.Security) == 0 {
			continue // open
		}
		t.Run(op, func(t *testing.T) {
			x := sample(op)
			x.code, x.offDoc = 401, true
			r := c.do(t, a, x)
			if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer ") {
				t.Errorf("401 without a bearer challenge: %q", r.header.Get("WWW-Authenticate"))
			}
			x.token, x.code, x.offDoc = "not-a-token", 401, false
			c.do(t, a, x)
			x.token, x.code = opsToken, 429
			c.do(t, limited, x)
			x.code = 503
			c.do(t, unavailable, x)
			x.code = 500
			c.do(t, panicking, x)
			if o.RequestBody == nil {
				return
			}
			body := sampleBody(op)
			x.body, x.code = body+strings.Repeat(" ", 64), 413
			c.do(t, small, x)
			x.body, x.code, x.offDoc = body, 415, true
			x.header = map[string]string{"Content-Type": "text/plain"}
			c.do(t, a, x)
		})
	}

	if missing := c.unseen(); len(missing) > 0 {
		t.Errorf("documented responses no request produced:\n%s", strings.Join(missing, "\n"))
	}
}

// waitDeliveries waits until run id has a finished delivery attempt.
func waitDeliveries(t *testing.T, f *fixture, id string) {
	t.Helper()
	deadline := time.Now().Add(schedulertest.WaitTimeout)
	for {
		ds, err := f.h.Scheduler.RunDeliveries(context.Background(), schedulertest.Principal, id)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) > 0 && !ds[0].FinishedAt.IsZero() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s: no finished delivery after %v", id, schedulertest.WaitTimeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestOpenAPIDocument checks the document's own rules.
func TestOpenAPIDocument(t *testing.T) {
	c := loadContract(t)
	var raw map[string]any
	if err := json.Unmarshal(api.OpenAPI(), &raw); err != nil {
		t.Fatal(err)
	}
	if raw["openapi"] != "3.1.0" {
		t.Errorf("openapi %v, want 3.1.0", raw["openapi"])
	}
	// Every object schema with properties is closed, so that a field the
	// document lacks fails the conformance test.
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if _, ok := v["properties"].(map[string]any); ok && v["additionalProperties"] != false {
				t.Errorf("%s: a schema with properties must set additionalProperties: false", path)
			}
			for k, e := range v {
				walk(path+"/"+k, e)
			}
		case []any:
			for i, e := range v {
				walk(path+"/"+strconv.Itoa(i), e)
			}
		}
	}
	walk("#", raw)

	// Every operation is named and answers problems as problems.
	for path, item := range c.doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.OperationID == "" || op.Summary == "" {
				t.Errorf("%s %s: no operationId or summary", method, path)
			}
			for code, ref := range op.Responses.Map() {
				if code[0] != '4' && code[0] != '5' {
					continue
				}
				if path == "/readyz" && code == "503" {
					continue // a Status
				}
				mt := ref.Value.Content.Get("application/problem+json")
				if mt == nil || mt.Schema == nil || mt.Schema.Ref != "#/components/schemas/Problem" {
					t.Errorf("%s %s %s: not a Problem", method, path, code)
				}
				wantHeader := map[string]string{"401": "WWW-Authenticate", "429": "Retry-After"}[code]
				if code == "503" && path != "/v1/webhooks/{source}" {
					wantHeader = "Retry-After"
				}
				if path == "/v1/webhooks/{source}" && code == "401" {
					wantHeader = "" // each source has its own scheme
				}
				if wantHeader != "" && ref.Value.Headers[wantHeader] == nil {
					t.Errorf("%s %s %s: %s not documented", method, path, code, wantHeader)
				}
			}
		}
	}
}

// TestOpenAPIContractBites makes sure the conformance test can fail: a
// response with a field the document lacks, or a status it does not list,
// is refused.
func TestOpenAPIContractBites(t *testing.T) {
	c := loadContract(t)
	f := newFixture(t)
	req := httptest.NewRequest("GET", "/v1/agents", nil)
	req.Header.Set("Authorization", "Bearer "+aliceToken)
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	f.api.ServeHTTP(rec, req)
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: c.requestOptions()}
	validate := func(code int, body string) error {
		return openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
			RequestValidationInput: in, Status: code, Header: rec.Header(), Body: io.NopCloser(strings.NewReader(body)),
			Options: c.responseOptions()})
	}
	if err := validate(rec.Code, rec.Body.String()); err != nil {
		t.Fatalf("the real answer fails: %v", err)
	}
	for name, body := range map[string]string{
		"extra field":       `{"agents":[{"name":"echo"}],"total":1}`,
		"extra item field":  `{"agents":[{"name":"echo","version":2}]}`,
		"missing field":     `{}`,
		"null for an array": `{"agents":null}`,
	} {
		if err := validate(200, body); err == nil {
			t.Errorf("%s: %s passes", name, body)
		}
	}
	if err := validate(http.StatusTeapot, `{}`); err == nil {
		t.Errorf("an undocumented status passes")
	}
	var s api.Schedule
	f.do("POST", "/v1/schedules", aliceToken, map[string]any{"name": "n", "agent": "echo", "every": "1h"}).want(t, 201).decode(t, &s)
	var sch map[string]any
	raw := f.do("GET", "/v1/schedules/"+s.ID, aliceToken, nil).want(t, 200).body
	if err := json.Unmarshal(raw, &sch); err != nil {
		t.Fatal(err)
	}
	schema := c.doc.Components.Schemas["Schedule"].Value
	opts := append(c.doc.GetSchemaValidationOptions(), openapi3.EnableJSONSchema2020())
	if err := schema.VisitJSON(sch, opts...); err != nil {
		t.Fatalf("a real schedule fails: %v", err)
	}
	for _, mutate := range []func(m map[string]any){
		func(m map[string]any) { m["owner_email"] = "x" },
		func(m map[string]any) { m["overlap"] = "sometimes" },
		func(m map[string]any) { m["paused"] = nil },
		func(m map[string]any) { delete(m, "next_run_at") },
		func(m map[string]any) { m["id"] = "not-a-uuid" },
		func(m map[string]any) { m["created_at"] = "yesterday" },
	} {
		m := map[string]any{}
		for k, v := range sch {
			m[k] = v
		}
		mutate(m)
		if err := schema.VisitJSON(m, opts...); err == nil {
			t.Errorf("a mutated schedule passes: %v", m)
		}
	}
}

// TestOpenAPIRoutes checks that the document and the routes registered in
// the package's files name the same operations, and that the API serves
// each documented operation (not the "no such route" 404 or a 405).
func TestOpenAPIRoutes(t *testing.T) {
	c := loadContract(t)
	documented := c.operations()

	// The patterns registered in the package's non-test files: string
	// literals shaped like a ServeMux pattern, as the first argument of a
	// call.
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, file)
	}
	var registered []string
	inspect := func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) == 0 {
			return true
		}
		lit, ok := call.Args[0].(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			return true
		}
		pattern, err := strconv.Unquote(lit.Value)
		if err != nil {
			return true
		}
		method, path, found := strings.Cut(pattern, " ")
		if !found {
			method, path = "", pattern
		}
		if strings.HasPrefix(path, "/") && (method == "" || method == strings.ToUpper(method)) {
			registered = append(registered, strings.TrimSpace(method+" "+path))
		}
		return true
	}
	for _, file := range files {
		ast.Inspect(file, inspect)
	}
	if len(registered) < 26 {
		t.Fatalf("found %d patterns in %d files: %v", len(registered), len(files), registered)
	}
	for _, p := range registered {
		method, path, found := strings.Cut(p, " ")
		if !found { // every method: documented with at least one
			path = method
			if !slices.ContainsFunc(documented, func(op string) bool { return strings.HasSuffix(op, " "+path) }) {
				t.Errorf("registered %s is not in the document", p)
			}
			continue
		}
		if !slices.Contains(documented, p) {
			t.Errorf("registered %s is not in the document", p)
		}
	}
	for _, op := range documented {
		method, path, _ := strings.Cut(op, " ")
		if !slices.Contains(registered, op) && !slices.Contains(registered, path) {
			t.Errorf("documented %s is not registered in the package (%s)", op, method)
		}
	}

	// Each documented operation is served by its route.
	f := newFixture(t)
	full := newAPI(t, withBackfill(t, api.Config{Scheduler: f.h.Scheduler, Authenticator: fixtureTokens(t), Webhooks: webhookSources(t),
		MetricsHandler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "up 1\n") })}, f.h.Store))
	for _, op := range documented {
		x := sample(op)
		req := httptest.NewRequest(x.method, x.path, strings.NewReader(sampleBody(op)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+opsToken)
		rec := httptest.NewRecorder()
		full.ServeHTTP(rec, req)
		var p api.Problem
		_ = json.Unmarshal(rec.Body.Bytes(), &p)
		if p.Type == "urn:herald:problem:method-not-allowed" || strings.HasPrefix(p.Detail, "no such route") {
			t.Errorf("%s: answered %d %s: the route is not served", op, rec.Code, p.Detail)
		}
	}
}
