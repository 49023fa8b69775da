package slack_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/delivery/internal/fakehook"
	"github.com/heraldhq/herald/delivery/slack"
)

// testToken is the bot token of the tests' deliverers; no error may
// quote it.
const testToken = "xoxb-1234-5678-secrettoken"

// hookPath is the path of the fake incoming webhook; its secret part may
// not appear in an error.
const hookPath = "/services/T000/B000/hooksecret"

// receiver is the fake Slack on loopback.
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
func newMessage(to string) *delivery.Message { return fakehook.Message("slack", to) }

// checkNoSecrets fails the test when err's text holds a secret.
func checkNoSecrets(t *testing.T, err error, rc *receiver) {
	t.Helper()
	fakehook.CheckNoSecrets(t, err, rc, testToken, "secrettoken")
}
