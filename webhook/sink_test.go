package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/go-kit/log"

	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/webhook"
)

// lockedBuffer is a log sink safe for concurrent writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestHandlerAnswersSinkErrors checks the Sink contract: a refusal
// matching ErrInvalidEvent is answered 400 naming the field as the sender
// knows it, anything else 503; both are counted, and logged without the
// body or the delivery id.
func TestHandlerAnswersSinkErrors(t *testing.T) {
	const body = `{"secret":"s3cr3t-value"}`
	cases := []struct {
		name   string
		err    error
		status int
		reason string
		detail string
	}{
		{"delivery id refused", fmt.Errorf("accept event: %w", &webhook.InvalidEventError{Field: "DeliveryID", Rule: "must be at most 8 bytes"}),
			http.StatusBadRequest, "invalid_event", "the delivery id (header X-Request-Id) must be at most 8 bytes"},
		{"body refused", &webhook.InvalidEventError{Field: "Body", Rule: "must be at most 4 bytes"},
			http.StatusBadRequest, "invalid_event", "the body must be at most 4 bytes"},
		{"source refused", &webhook.InvalidEventError{Field: "Source", Rule: "is retired"},
			http.StatusBadRequest, "invalid_event", "the source name is retired"},
		{"another field", &webhook.InvalidEventError{Field: "tenant", Rule: "must be known"},
			http.StatusBadRequest, "invalid_event", "tenant must be known"},
		{"bare sentinel", fmt.Errorf("record: %w", webhook.ErrInvalidEvent),
			http.StatusBadRequest, "invalid_event", "the event is invalid"},
		{"store unavailable", errors.New("store: unavailable"),
			http.StatusServiceUnavailable, "unavailable", "retry later"},
		{"timeout", fmt.Errorf("accept event: %w", context.DeadlineExceeded),
			http.StatusServiceUnavailable, "unavailable", "retry later"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var logs lockedBuffer
			sink := webhook.SinkFunc(func(context.Context, *webhook.Event) (*webhook.Receipt, error) { return nil, c.err })
			h, err := webhook.NewHandler(webhook.HandlerConfig{Sink: sink, Logger: log.NewLogfmtLogger(&logs), Sources: []webhook.Source{
				{Name: "plain", Verifier: webhook.Insecure(), Agent: "echo", Owner: "ops", DeliveryIDHeader: "X-Request-Id"},
			}})
			if err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest(http.MethodPost, "/plain", strings.NewReader(body))
			req.Header.Set("X-Request-Id", "id-7f3a9c")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			var problem struct {
				Status int    `json:"status"`
				Detail string `json:"detail"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &problem); err != nil {
				t.Fatalf("%d %s: %v", rec.Code, rec.Body, err)
			}
			if rec.Code != c.status || problem.Status != c.status || !strings.Contains(problem.Detail, c.detail) {
				t.Errorf("answer %d %q, want %d naming %q", rec.Code, problem.Detail, c.status, c.detail)
			}
			if rj := h.Rejections(); len(rj) != 1 || rj[0] != (webhook.Rejection{Source: "plain", Reason: c.reason, Count: 1}) {
				t.Errorf("rejections %+v, want plain/%s once", rj, c.reason)
			}
			if !strings.Contains(logs.String(), "plain") {
				t.Errorf("nothing logged: %q", logs.String())
			}
			if c.status == http.StatusBadRequest && strings.Contains(logs.String(), "id-7f3a9c") {
				t.Errorf("the log holds the refused delivery id: %s", logs.String())
			}
			if strings.Contains(logs.String(), "s3cr3t") || strings.Contains(rec.Body.String(), "s3cr3t") {
				t.Errorf("the body leaked: log %q, answer %q", logs.String(), rec.Body)
			}
		})
	}
}

// TestInvalidEventErrorMatches checks that an InvalidEventError matches
// ErrInvalidEvent however it is wrapped, and nothing else does.
func TestInvalidEventErrorMatches(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"bare", &webhook.InvalidEventError{Field: "Body", Rule: "must be JSON"}, true},
		{"wrapped", fmt.Errorf("sink: %w", &webhook.InvalidEventError{Field: "Body"}), true},
		{"joined", errors.Join(errors.New("x"), &webhook.InvalidEventError{}), true},
		{"verification", &webhook.VerificationError{Reason: webhook.ReasonBadSignature}, false},
		{"other", context.Canceled, false},
	}
	for _, c := range cases {
		if got := errors.Is(c.err, webhook.ErrInvalidEvent); got != c.want {
			t.Errorf("%s: errors.Is(%v, ErrInvalidEvent) = %v, want %v", c.name, c.err, got, c.want)
		}
	}
	if got := (&webhook.InvalidEventError{Field: "Body", Rule: "must be JSON"}).Error(); got != "webhook: invalid event: Body must be JSON" {
		t.Errorf("Error() = %q", got)
	}
}

// TestHandlerMaxDeliveryID checks the handler's own bound on a delivery
// id: by default the stores' limit, otherwise as configured, and never
// below the length of an id made from the body's hash.
func TestHandlerMaxDeliveryID(t *testing.T) {
	cases := []struct {
		name   string
		max    int
		id     int // length of the X-Request-Id sent; 0 sends none
		status int
	}{
		{"default, at the limit", 0, webhook.MaxDeliveryIDDefault, http.StatusOK},
		{"default, over the limit", 0, webhook.MaxDeliveryIDDefault + 1, http.StatusBadRequest},
		{"raised", 1000, 1000, http.StatusOK},
		{"raised, over", 1000, 1001, http.StatusBadRequest},
		{"lowest", 71, 72, http.StatusBadRequest},
		{"lowest, body hash id", 71, 0, http.StatusOK},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got string
			sink := webhook.SinkFunc(func(_ context.Context, e *webhook.Event) (*webhook.Receipt, error) {
				got = e.DeliveryID
				return &webhook.Receipt{EventID: "e", RunID: "r"}, nil
			})
			h, err := webhook.NewHandler(webhook.HandlerConfig{Sink: sink, MaxDeliveryID: c.max, Sources: []webhook.Source{
				{Name: "plain", Verifier: webhook.Insecure(), Agent: "echo", Owner: "ops", DeliveryIDHeader: "X-Request-Id"},
			}})
			if err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest(http.MethodPost, "/plain", strings.NewReader(`{}`))
			if c.id > 0 {
				req.Header.Set("X-Request-Id", strings.Repeat("i", c.id))
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != c.status {
				t.Fatalf("status %d (%s), want %d", rec.Code, rec.Body, c.status)
			}
			if (got != "") != (c.status == http.StatusOK) {
				t.Errorf("the sink got %d bytes of id, status %d", len(got), rec.Code)
			}
		})
	}
	sink := webhook.SinkFunc(func(context.Context, *webhook.Event) (*webhook.Receipt, error) { return &webhook.Receipt{}, nil })
	for _, max := range []int{-1, 1, 70} {
		_, err := webhook.NewHandler(webhook.HandlerConfig{Sink: sink, MaxDeliveryID: max, Sources: []webhook.Source{
			{Name: "a", Verifier: webhook.Insecure(), Agent: "echo", Owner: "ops"}}})
		if err == nil {
			t.Errorf("MaxDeliveryID %d accepted", max)
		}
	}
}

// checkingSink is a Sink that knows one agent and hands events to got.
type checkingSink struct {
	got chan *webhook.Event
}

func (s checkingSink) Accept(_ context.Context, e *webhook.Event) (*webhook.Receipt, error) {
	s.got <- e
	return &webhook.Receipt{EventID: "e", RunID: "r"}, nil
}

func (checkingSink) CheckSource(src webhook.Source) error {
	if src.Agent != "echo" {
		return fmt.Errorf("Agent: names no registered agent: %q", src.Agent)
	}
	return nil
}

func TestSourceCheckerAndTargets(t *testing.T) {
	sink := checkingSink{got: make(chan *webhook.Event, 1)}
	_, err := webhook.NewHandler(webhook.HandlerConfig{Sink: sink, Sources: []webhook.Source{
		{Name: "good", Verifier: webhook.Insecure(), Agent: "echo", Owner: "ops"},
		{Name: "bad", Verifier: webhook.Insecure(), Agent: "ehco", Owner: "ops"},
	}})
	if err == nil || !strings.Contains(err.Error(), `Sources[1] (bad): Agent: names no registered agent: "ehco"`) {
		t.Fatalf("NewHandler: %v, want the unknown agent of Sources[1] refused", err)
	}
	targets := []delivery.Target{{Channel: "log"}, {Channel: "slack", To: "#ops", On: "failure"}}
	h, err := webhook.NewHandler(webhook.HandlerConfig{Sink: sink, Sources: []webhook.Source{
		{Name: "good", Verifier: webhook.Insecure(), Agent: "echo", Owner: "ops", Targets: targets},
	}})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/good", strings.NewReader(`{}`)))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d (%s)", rec.Code, rec.Body)
	}
	e := <-sink.got
	if fmt.Sprint(e.Targets) != fmt.Sprint(targets) {
		t.Errorf("event targets %v, want %v", e.Targets, targets)
	}
}
