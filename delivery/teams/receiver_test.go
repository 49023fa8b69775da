package teams_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/delivery/teams"
)

// hookPath is the path of the fake webhook; its secret part may not
// appear in an error.
const hookPath = "/webhookb2/0000/IncomingWebhook/hooksecret"

// receiver is a fake Teams webhook on loopback: it records every request
// and answers with respond, called with the request's number (1 for the
// first).
type receiver struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []request
}

// request is a request the receiver got.
type request struct {
	Path   string
	Header http.Header
	Body   []byte
}

// newReceiver starts a receiver that answers with respond, and closes it
// (and its client's idle connections) when t ends.
func newReceiver(t *testing.T, respond func(w http.ResponseWriter, r *http.Request, n int)) *receiver {
	t.Helper()
	rc := &receiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		rc.mu.Lock()
		rc.reqs = append(rc.reqs, request{Path: r.URL.Path, Header: r.Header.Clone(), Body: body})
		n := len(rc.reqs)
		rc.mu.Unlock()
		respond(w, r, n)
	}))
	t.Cleanup(rc.Close)
	return rc
}

// requests returns what the receiver got so far.
func (rc *receiver) requests() []request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]request(nil), rc.reqs...)
}

// hookURL is the URL of the receiver's webhook.
func (rc *receiver) hookURL() string { return rc.URL + hookPath }

// newDeliverer returns a Deliverer on rc: cfg with rc's client, and short
// waits unless cfg sets its own.
func newDeliverer(t *testing.T, rc *receiver, cfg teams.Config) *teams.Deliverer {
	t.Helper()
	cfg.HTTP.HTTPClient = rc.Client() // rc.Close closes its idle connections
	if cfg.HTTP.Timeout == 0 {
		cfg.HTTP.Timeout = 5 * time.Second
	}
	if cfg.HTTP.MaxWait == 0 {
		cfg.HTTP.MaxWait = 20 * time.Millisecond
	}
	d, err := teams.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return d
}

// answerWorkflow answers as a Workflows URL does: 202 Accepted, no body.
func answerWorkflow(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusAccepted) }

// answerLegacy answers as a legacy connector does: 200 and "1".
func answerLegacy(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "1") }

// hang answers nothing until the request's context ends (the client gave
// up) or a minute passes.
func hang(_ http.ResponseWriter, r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-time.After(time.Minute):
	}
}

// gotMessage is a post's body as the receiver decodes it.
type gotMessage struct {
	Type        string `json:"type"`
	Attachments []struct {
		ContentType string `json:"contentType"`
		Content     struct {
			Schema  string       `json:"$schema"`
			Type    string       `json:"type"`
			Version string       `json:"version"`
			Body    []gotElement `json:"body"`
		} `json:"content"`
	} `json:"attachments"`
}

// gotElement is an element of the card's body.
type gotElement struct {
	Type   string `json:"type"`
	Text   string `json:"text"`
	Weight string `json:"weight"`
	Size   string `json:"size"`
	Color  string `json:"color"`
	Wrap   bool   `json:"wrap"`
	Facts  []struct {
		Title string `json:"title"`
		Value string `json:"value"`
	} `json:"facts"`
}

// decode decodes a request's body, failing the test unless it is a
// message with one card.
func decode(t *testing.T, r request) gotMessage {
	t.Helper()
	var m gotMessage
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("body of the post is not JSON: %v\n%s", err, r.Body)
	}
	if len(m.Attachments) != 1 {
		t.Fatalf("post has %d attachments, want 1:\n%s", len(m.Attachments), r.Body)
	}
	return m
}

// newMessage is a succeeded run's result, to the address to.
func newMessage(to string) *delivery.Message {
	return &delivery.Message{
		RunID:          "01900000-0000-7000-8000-000000000001",
		Owner:          "ops",
		Agent:          "kpi_report",
		Status:         delivery.StatusSucceeded,
		Target:         delivery.Target{Channel: "teams", To: to},
		Subject:        "kpi_report succeeded",
		Text:           "Revenue up 3% week on week.",
		Output:         json.RawMessage(`{"revenue":103}`),
		IdempotencyKey: "01900000-0000-7000-8000-000000000001/teams/" + to,
	}
}

// checkNoSecrets fails the test when err's text holds the receiver's
// address or the webhook's secret path.
func checkNoSecrets(t *testing.T, err error, rc *receiver) {
	t.Helper()
	if err == nil {
		return
	}
	for _, secret := range []string{rc.Listener.Addr().String(), "hooksecret"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error %q holds the secret %q", err, secret)
		}
	}
}
