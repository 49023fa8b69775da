package teams_test

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/delivery/internal/fakehook"
	"github.com/heraldhq/herald/delivery/teams"
)

// hookPath is the path of the fake webhook; its secret part may not
// appear in an error.
const hookPath = "/webhookb2/0000/IncomingWebhook/hooksecret"

// receiver is the fake Teams on loopback.
type receiver = fakehook.Receiver

// request is a request the receiver got.
type request = fakehook.Request

// newReceiver starts a receiver whose webhook is at hookPath and that
// answers with respond.
func newReceiver(t *testing.T, respond func(w http.ResponseWriter, r *http.Request, n int)) *receiver {
	t.Helper()
	return fakehook.New(t, hookPath, respond)
}

// hang answers nothing until the client gives up.
var hang = fakehook.Hang

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
func newMessage(to string) *delivery.Message { return fakehook.Message("teams", to) }

// checkNoSecrets fails the test when err's text holds a secret.
func checkNoSecrets(t *testing.T, err error, rc *receiver) {
	t.Helper()
	fakehook.CheckNoSecrets(t, err, rc)
}
