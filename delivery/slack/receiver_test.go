package slack_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/delivery/slack"
)

// testToken is the bot token of the tests' deliverers; no error may
// quote it.
const testToken = "xoxb-1234-5678-secrettoken"

// hookPath is the path of the fake incoming webhook; its secret part may
// not appear in an error.
const hookPath = "/services/T000/B000/hooksecret"

// receiver is a fake Slack on loopback, Web API under /api and incoming
// webhooks elsewhere: it records every request and answers with respond,
// called with the request's number (1 for the first).
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
		r.Body = io.NopCloser(bytes.NewReader(body))
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

// hookURL is the URL of the receiver's incoming webhook.
func (rc *receiver) hookURL() string { return rc.URL + hookPath }

// newDeliverer returns a Deliverer on rc: cfg with the API at rc, rc's
// client, and short waits unless cfg sets its own.
func newDeliverer(t *testing.T, rc *receiver, cfg slack.Config) *slack.Deliverer {
	t.Helper()
	if cfg.APIURL == "" {
		cfg.APIURL = rc.URL + "/api"
	}
	cfg.HTTP.HTTPClient = rc.Client() // rc.Close closes its idle connections
	if cfg.HTTP.Timeout == 0 {
		cfg.HTTP.Timeout = 5 * time.Second
	}
	if cfg.HTTP.MaxWait == 0 {
		cfg.HTTP.MaxWait = 20 * time.Millisecond
	}
	d, err := slack.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return d
}

// answerOK answers r as Slack does when all is well: "ok" from an
// incoming webhook, {"ok":true,…} from the Web API.
func answerOK(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/api/") {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		io.WriteString(w, `{"ok":true,"channel":"C0123ABC","ts":"1700000000.000100"}`)
		return
	}
	w.Header().Set("Content-Type", "text/html")
	io.WriteString(w, "ok")
}

// hang answers nothing until the request's context ends (the client gave
// up) or a minute passes.
func hang(_ http.ResponseWriter, r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-time.After(time.Minute):
	}
}

// gotPayload is a post's body as the receiver decodes it; pointers tell
// absent fields from zero ones.
type gotPayload struct {
	Channel *string `json:"channel"`
	Text    string  `json:"text"`
	Blocks  []struct {
		Type string `json:"type"`
		Text struct {
			Type string `json:"type"`
			Text string `json:"text"`
		} `json:"text"`
	} `json:"blocks"`
	UnfurlLinks *bool `json:"unfurl_links"`
	UnfurlMedia *bool `json:"unfurl_media"`
	Metadata    *struct {
		EventType    string            `json:"event_type"`
		EventPayload map[string]string `json:"event_payload"`
	} `json:"metadata"`
}

// decode decodes a request's body, failing the test when it is not a
// post's JSON.
func decode(t *testing.T, r request) gotPayload {
	t.Helper()
	var p gotPayload
	if err := json.Unmarshal(r.Body, &p); err != nil {
		t.Fatalf("body of the post to %s is not JSON: %v\n%s", r.Path, err, r.Body)
	}
	return p
}

// newMessage is a succeeded run's result, to the address to.
func newMessage(to string) *delivery.Message {
	return &delivery.Message{
		RunID:          "01900000-0000-7000-8000-000000000001",
		Owner:          "ops",
		Agent:          "kpi_report",
		Status:         delivery.StatusSucceeded,
		Target:         delivery.Target{Channel: "slack", To: to},
		Subject:        "kpi_report succeeded",
		Text:           "Revenue up 3% week on week.",
		Output:         json.RawMessage(`{"revenue":103}`),
		IdempotencyKey: "01900000-0000-7000-8000-000000000001/slack/" + to,
	}
}

// checkNoSecrets fails the test when err's text holds the token, the
// receiver's address or the webhook's secret path.
func checkNoSecrets(t *testing.T, err error, rc *receiver) {
	t.Helper()
	if err == nil {
		return
	}
	for _, secret := range []string{testToken, "secrettoken", rc.Listener.Addr().String(), "hooksecret"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error %q holds the secret %q", err, secret)
		}
	}
}
