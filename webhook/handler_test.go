package webhook_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/agent"
	"github.com/heraldhq/herald/scheduler"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/store/memstore"
	"github.com/heraldhq/herald/webhook"
)

// testVerifier accepts requests whose X-Test-Sig is "ok", and takes the
// delivery id from X-Test-Id.
var testVerifier = webhook.VerifierFunc(func(_ context.Context, h http.Header, _ []byte) (*webhook.Verified, error) {
	switch h.Get("X-Test-Sig") {
	case "":
		return nil, &webhook.VerificationError{Reason: webhook.ReasonMissingHeader, Header: "X-Test-Sig"}
	case "ok":
		return &webhook.Verified{DeliveryID: h.Get("X-Test-Id")}, nil
	case "challenge":
		return &webhook.Verified{Reply: []byte(`{"challenge":"abc"}`), ReplyType: "application/json"}, nil
	case "down":
		return nil, errors.New("key server unreachable")
	}
	return nil, &webhook.VerificationError{Reason: webhook.ReasonBadSignature, Header: "X-Test-Sig"}
})

// schedulerSink is the sink a service wires: the scheduler's AcceptEvent.
func schedulerSink(s *scheduler.Scheduler) webhook.Sink {
	return webhook.SinkFunc(func(ctx context.Context, e *webhook.Event) (*webhook.Receipt, error) {
		res, err := s.AcceptEvent(ctx, scheduler.EventRequest{Source: e.Source, DeliveryID: e.DeliveryID,
			Headers: e.Headers, Body: e.Body, Agent: e.Agent, Owner: e.Owner})
		if err != nil {
			return nil, err
		}
		rc := &webhook.Receipt{EventID: res.Event.ID, Duplicate: res.Duplicate}
		if res.Run != nil {
			rc.RunID = res.Run.ID
		}
		return rc, nil
	})
}

// failingStore refuses EventAccept as unavailable.
type failingStore struct{ store.Store }

func (failingStore) EventAccept(context.Context, *store.EventAcceptParams) (*store.EventAcceptResult, error) {
	return nil, store.ErrUnavailable
}

type fixture struct {
	st  store.Store
	srv *httptest.Server
	h   *webhook.Handler
}

func newFixture(t *testing.T, wrap func(store.Store) store.Store) *fixture {
	t.Helper()
	mem := memstore.New(memstore.Options{})
	t.Cleanup(func() { mem.Close() })
	var st store.Store = mem
	if wrap != nil {
		st = wrap(mem)
	}
	agents := agent.NewRegistry()
	agents.MustRegister("echo", agent.Func(func(context.Context, *agent.Task) (*agent.Result, error) { return nil, nil }))
	s, err := scheduler.New(st, scheduler.Config{Agents: agents})
	if err != nil {
		t.Fatal(err)
	}
	h, err := webhook.NewHandler(webhook.HandlerConfig{
		Sink: schedulerSink(s),
		Sources: []webhook.Source{
			{Name: "github", Verifier: testVerifier, Agent: "echo", Owner: "ops", MaxBody: 64, KeepHeaders: []string{"X-Test-Id"}},
			{Name: "plain", Verifier: testVerifier, Agent: "echo", Owner: "ops", DeliveryIDHeader: "X-Request-Id"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/v1/webhooks/{source}", h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &fixture{st: mem, srv: srv, h: h}
}

func (fx *fixture) post(t *testing.T, method, source string, header map[string]string, body string) (int, map[string]any, string) {
	t.Helper()
	req, err := http.NewRequest(method, fx.srv.URL+"/v1/webhooks/"+source, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := fx.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out, string(raw)
}

func (fx *fixture) events(t *testing.T) int {
	t.Helper()
	page, err := fx.st.EventList(context.Background(), &store.EventListParams{})
	if err != nil {
		t.Fatal(err)
	}
	return len(page.Events)
}

func TestHandlerStatuses(t *testing.T) {
	fx := newFixture(t, nil)
	ok := map[string]string{"X-Test-Sig": "ok", "X-Test-Id": "d-1"}
	secretBody := `{"secret":"s3cr3t-value"}`
	cases := []struct {
		name   string
		method string
		source string
		header map[string]string
		body   string
		status int
	}{
		{"accepted", http.MethodPost, "github", ok, `{"a":1}`, http.StatusOK},
		{"bad source name", http.MethodPost, "Bad_Name", ok, `{}`, http.StatusBadRequest},
		{"unknown source", http.MethodPost, "nope", ok, `{}`, http.StatusNotFound},
		{"not POST", http.MethodGet, "github", ok, ``, http.StatusMethodNotAllowed},
		{"missing signature", http.MethodPost, "github", map[string]string{}, secretBody, http.StatusUnauthorized},
		{"bad signature", http.MethodPost, "github", map[string]string{"X-Test-Sig": "forged"}, secretBody, http.StatusUnauthorized},
		{"one byte over the limit", http.MethodPost, "github", ok, strings.Repeat("x", 65), http.StatusRequestEntityTooLarge},
		{"verifier unavailable", http.MethodPost, "github", map[string]string{"X-Test-Sig": "down"}, `{}`, http.StatusServiceUnavailable},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, out, raw := fx.post(t, c.method, c.source, c.header, c.body)
			if status != c.status {
				t.Fatalf("status %d (%s), want %d", status, raw, c.status)
			}
			if strings.Contains(raw, "s3cr3t") {
				t.Errorf("the response echoes the body: %s", raw)
			}
			if c.status == http.StatusOK {
				if out["received"] != true || out["event_id"] == "" || out["run_id"] == "" || out["duplicate"] != false {
					t.Errorf("response %s", raw)
				}
			} else if out["status"] != float64(c.status) || out["detail"] == "" {
				t.Errorf("problem %s", raw)
			}
		})
	}
	if n := fx.events(t); n != 1 {
		t.Errorf("%d events stored, want 1 (only the accepted one)", n)
	}
	counts := map[string]int64{}
	for _, r := range fx.h.Rejections() {
		counts[r.Source+"/"+r.Reason] += r.Count
	}
	for _, k := range []string{"/bad_source", "/unknown_source", "github/method", "github/missing_header",
		"github/bad_signature", "github/too_large", "github/verifier_unavailable"} {
		if counts[k] != 1 {
			t.Errorf("rejections %s = %d, want 1 (all: %v)", k, counts[k], counts)
		}
	}
}

func TestHandlerDeliveryIDsAndReplies(t *testing.T) {
	fx := newFixture(t, nil)
	_, first, _ := fx.post(t, http.MethodPost, "plain", map[string]string{"X-Test-Sig": "ok", "X-Request-Id": "r-1"}, `{"n":1}`)
	_, again, _ := fx.post(t, http.MethodPost, "plain", map[string]string{"X-Test-Sig": "ok", "X-Request-Id": "r-1"}, `{"n":2}`)
	if again["duplicate"] != true || again["event_id"] != first["event_id"] || again["run_id"] != first["run_id"] {
		t.Errorf("same configured id: %v then %v, want a duplicate of the first", first, again)
	}
	fx.post(t, http.MethodPost, "plain", map[string]string{"X-Test-Sig": "ok"}, `{"n":3}`)
	_, h2, _ := fx.post(t, http.MethodPost, "plain", map[string]string{"X-Test-Sig": "ok"}, `{"n":3}`)
	_, h3, _ := fx.post(t, http.MethodPost, "plain", map[string]string{"X-Test-Sig": "ok"}, `{"n":4}`)
	if h2["duplicate"] != true || h3["duplicate"] != false {
		t.Errorf("body-hash ids: same body duplicate=%v, other body duplicate=%v", h2["duplicate"], h3["duplicate"])
	}
	status, _, raw := fx.post(t, http.MethodPost, "plain", map[string]string{"X-Test-Sig": "challenge"}, `{"type":"url_verification"}`)
	if status != http.StatusOK || strings.TrimSpace(raw) != `{"challenge":"abc"}` {
		t.Errorf("challenge reply: %d %s", status, raw)
	}
	ev, err := fx.st.EventList(context.Background(), &store.EventListParams{Source: "plain"})
	if err != nil || len(ev.Events) != 3 {
		t.Fatalf("plain events: %d (%v), want 3 (the challenge is not recorded)", len(ev.Events), err)
	}
}

func TestHandlerKeepsHeadersAndBody(t *testing.T) {
	fx := newFixture(t, nil)
	_, out, raw := fx.post(t, http.MethodPost, "github", map[string]string{"X-Test-Sig": "ok", "X-Test-Id": "d-9", "X-Other": "dropped"}, `{"k":"v"}`)
	id, _ := out["event_id"].(string)
	ev, err := fx.st.EventGet(context.Background(), id)
	if err != nil {
		t.Fatalf("%v (%s)", err, raw)
	}
	if string(ev.Body) != `{"k":"v"}` || ev.DeliveryID != "d-9" || ev.Source != "github" {
		t.Errorf("event %+v", ev)
	}
	if got := ev.Headers["X-Test-Id"]; len(got) != 1 || got[0] != "d-9" {
		t.Errorf("kept headers %v", ev.Headers)
	}
	if _, ok := ev.Headers["X-Other"]; ok {
		t.Errorf("a header not asked for was kept: %v", ev.Headers)
	}
	r, err := fx.st.RunGet(context.Background(), out["run_id"].(string))
	if err != nil || r.Kind != store.RunKindWebhook || r.EventID != id || r.Agent != "echo" || r.Owner != "ops" {
		t.Errorf("run %+v %v", r, err)
	}
}

func TestConcurrentDeliveriesOfOneIDMakeOneRun(t *testing.T) {
	fx := newFixture(t, nil)
	var wg sync.WaitGroup
	runs := make(chan string, 100)
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, out, raw := fx.post(t, http.MethodPost, "github", map[string]string{"X-Test-Sig": "ok", "X-Test-Id": "same"}, fmt.Sprintf(`{"i":%d}`, i))
			if status != http.StatusOK {
				t.Errorf("status %d: %s", status, raw)
				return
			}
			runs <- out["run_id"].(string)
		}()
	}
	wg.Wait()
	close(runs)
	ids := map[string]bool{}
	for id := range runs {
		ids[id] = true
	}
	if len(ids) != 1 || fx.events(t) != 1 {
		t.Errorf("%d distinct runs and %d events for 100 deliveries of one id, want 1 and 1", len(ids), fx.events(t))
	}
	page, _ := fx.st.RunList(context.Background(), &store.RunListParams{})
	if len(page.Runs) != 1 {
		t.Errorf("%d runs stored, want 1", len(page.Runs))
	}
}

func TestStoreFailureIs503AndWritesNothing(t *testing.T) {
	fx := newFixture(t, func(st store.Store) store.Store { return failingStore{st} })
	status, _, raw := fx.post(t, http.MethodPost, "github", map[string]string{"X-Test-Sig": "ok", "X-Test-Id": "d-1"}, `{"a":1}`)
	if status != http.StatusServiceUnavailable {
		t.Fatalf("status %d (%s), want 503", status, raw)
	}
	page, _ := fx.st.RunList(context.Background(), &store.RunListParams{})
	if fx.events(t) != 0 || len(page.Runs) != 0 {
		t.Errorf("a failed accept wrote %d events and %d runs", fx.events(t), len(page.Runs))
	}
}

func TestNewHandlerRefusesBadConfig(t *testing.T) {
	sink := webhook.SinkFunc(func(context.Context, *webhook.Event) (*webhook.Receipt, error) { return &webhook.Receipt{}, nil })
	good := webhook.Source{Name: "a", Verifier: testVerifier, Agent: "echo", Owner: "ops"}
	cases := map[string]webhook.HandlerConfig{
		"no sink":        {Sources: []webhook.Source{good}},
		"no sources":     {Sink: sink},
		"bad name":       {Sink: sink, Sources: []webhook.Source{{Name: "Bad!", Verifier: testVerifier, Agent: "echo", Owner: "ops"}}},
		"twice":          {Sink: sink, Sources: []webhook.Source{good, good}},
		"no verifier":    {Sink: sink, Sources: []webhook.Source{{Name: "a", Agent: "echo", Owner: "ops"}}},
		"no agent":       {Sink: sink, Sources: []webhook.Source{{Name: "a", Verifier: testVerifier, Owner: "ops"}}},
		"negative limit": {Sink: sink, Sources: []webhook.Source{{Name: "a", Verifier: testVerifier, Agent: "echo", Owner: "ops", MaxBody: -1}}},
	}
	for name, cfg := range cases {
		if _, err := webhook.NewHandler(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestHandlerRefusesOverlongDeliveryIDs checks that a delivery id the
// store can never keep is answered 400, naming the header it came from
// and the rule, rather than 503 (which the sender would retry forever),
// and that nothing is recorded.
func TestHandlerRefusesOverlongDeliveryIDs(t *testing.T) {
	const (
		ghSecret  = "gh-s3cret"
		stdSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
		body      = `{"action":"opened"}`
	)
	gh, err := webhook.NewGitHub([]string{ghSecret})
	if err != nil {
		t.Fatal(err)
	}
	std, err := webhook.NewStandard([]string{stdSecret})
	if err != nil {
		t.Fatal(err)
	}
	ghSig := func() string {
		m := hmac.New(sha256.New, []byte(ghSecret))
		m.Write([]byte(body))
		return "sha256=" + hex.EncodeToString(m.Sum(nil))
	}
	stdHeaders := func(prefix, id string) map[string]string {
		key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(stdSecret, "whsec_"))
		if err != nil {
			t.Fatal(err)
		}
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		m := hmac.New(sha256.New, key)
		m.Write([]byte(id + "." + ts + "." + body))
		return map[string]string{prefix + "-id": id, prefix + "-timestamp": ts,
			prefix + "-signature": "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))}
	}
	long, limit := strings.Repeat("d", 201), strings.Repeat("d", 200)
	cases := []struct {
		name   string
		source string
		header map[string]string
		status int
		detail []string // what the problem's detail names, case-insensitively
	}{
		{"GitHub id over the limit", "gh", map[string]string{"X-Hub-Signature-256": ghSig(), "X-GitHub-Delivery": long},
			http.StatusBadRequest, []string{"X-GitHub-Delivery", "at most 200 bytes"}},
		{"GitHub id at the limit", "gh", map[string]string{"X-Hub-Signature-256": ghSig(), "X-GitHub-Delivery": limit},
			http.StatusOK, nil},
		{"webhook-id over the limit", "std", stdHeaders("webhook", long), http.StatusBadRequest, []string{"webhook-id", "at most 200 bytes"}},
		{"svix-id over the limit", "std", stdHeaders("svix", long), http.StatusBadRequest, []string{"svix-id", "at most 200 bytes"}},
		{"configured header over the limit", "plain", map[string]string{"X-Test-Sig": "ok", "X-Request-Id": long},
			http.StatusBadRequest, []string{"X-Request-Id", "at most 200 bytes"}},
		{"a verifier's id over the limit", "github", map[string]string{"X-Test-Sig": "ok", "X-Test-Id": long},
			http.StatusBadRequest, []string{"delivery id", "at most 200 bytes"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mem := memstore.New(memstore.Options{})
			t.Cleanup(func() { mem.Close() })
			agents := agent.NewRegistry()
			agents.MustRegister("echo", agent.Func(func(context.Context, *agent.Task) (*agent.Result, error) { return nil, nil }))
			s, err := scheduler.New(mem, scheduler.Config{Agents: agents})
			if err != nil {
				t.Fatal(err)
			}
			h, err := webhook.NewHandler(webhook.HandlerConfig{Sink: schedulerSink(s), Sources: []webhook.Source{
				{Name: "gh", Verifier: gh, Agent: "echo", Owner: "ops"},
				{Name: "std", Verifier: std, Agent: "echo", Owner: "ops"},
				{Name: "plain", Verifier: testVerifier, Agent: "echo", Owner: "ops", DeliveryIDHeader: "X-Request-Id"},
				{Name: "github", Verifier: testVerifier, Agent: "echo", Owner: "ops"},
			}})
			if err != nil {
				t.Fatal(err)
			}
			mux := http.NewServeMux()
			mux.Handle("POST /v1/webhooks/{source}", h)
			req := httptest.NewRequest(http.MethodPost, "/v1/webhooks/"+c.source, strings.NewReader(body))
			for k, v := range c.header {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, req)
			if rec.Code != c.status {
				t.Fatalf("status %d (%s), want %d", rec.Code, strings.TrimSpace(rec.Body.String()), c.status)
			}
			page, err := mem.EventList(context.Background(), &store.EventListParams{})
			if err != nil {
				t.Fatal(err)
			}
			if c.status == http.StatusOK {
				if len(page.Events) != 1 {
					t.Errorf("%d events stored, want 1", len(page.Events))
				}
				return
			}
			if len(page.Events) != 0 {
				t.Errorf("%d events stored, want none", len(page.Events))
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type %q, want application/problem+json", ct)
			}
			var problem struct {
				Status int    `json:"status"`
				Detail string `json:"detail"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &problem); err != nil || problem.Status != c.status {
				t.Fatalf("problem %s (%v)", rec.Body, err)
			}
			for _, want := range c.detail {
				if !strings.Contains(strings.ToLower(problem.Detail), strings.ToLower(want)) {
					t.Errorf("detail %q does not name %q", problem.Detail, want)
				}
			}
			if strings.Contains(rec.Body.String(), long) || strings.Contains(rec.Body.String(), "opened") {
				t.Errorf("the problem echoes the request: %s", rec.Body)
			}
		})
	}
}
