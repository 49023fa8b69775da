// Package fakehook is test support for Herald's HTTP deliverers: a fake
// receiver on loopback that records every request and answers as the test
// says, and the checks the deliverers' tests share. It is imported by
// tests only.
package fakehook

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
)

// SecretPart is the part of every hook path that stands for the secret a
// real webhook URL holds; it must never appear in an error.
const SecretPart = "hooksecret"

// Request is a request a Receiver got.
type Request struct {
	Path   string
	Header http.Header
	Body   []byte
}

// Receiver is a fake receiver on 127.0.0.1.
type Receiver struct {
	*httptest.Server
	hookPath string

	mu   sync.Mutex
	reqs []Request
}

// New starts a Receiver whose webhook is at hookPath (which should hold
// SecretPart) and that answers each request with respond, called with the
// request's number (1 for the first) and its body readable again. It is
// closed, with its client's idle connections, when t ends.
func New(t *testing.T, hookPath string, respond func(w http.ResponseWriter, r *http.Request, n int)) *Receiver {
	t.Helper()
	rc := &Receiver{hookPath: hookPath}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		rc.mu.Lock()
		rc.reqs = append(rc.reqs, Request{Path: r.URL.Path, Header: r.Header.Clone(), Body: body})
		n := len(rc.reqs)
		rc.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		respond(w, r, n)
	}))
	t.Cleanup(rc.Close)
	return rc
}

// Requests returns what the receiver got so far.
func (rc *Receiver) Requests() []Request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]Request(nil), rc.reqs...)
}

// HookURL is the URL of the receiver's webhook.
func (rc *Receiver) HookURL() string { return rc.URL + rc.hookPath }

// Hang answers nothing until the request's context ends (the client gave
// up) or a minute passes.
func Hang(_ http.ResponseWriter, r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-time.After(time.Minute):
	}
}

// Message is a succeeded run's result, to the address to of channel.
func Message(channel, to string) *delivery.Message {
	return &delivery.Message{
		RunID:          "01900000-0000-7000-8000-000000000001",
		Owner:          "ops",
		Agent:          "kpi_report",
		Status:         delivery.StatusSucceeded,
		Target:         delivery.Target{Channel: channel, To: to},
		Subject:        "kpi_report succeeded",
		Text:           "Revenue up 3% week on week.",
		Output:         json.RawMessage(`{"revenue":103}`),
		IdempotencyKey: "01900000-0000-7000-8000-000000000001/" + channel + "/" + to,
	}
}

// CheckNoSecrets fails the test when err's text holds the receiver's
// address, SecretPart or one of secrets.
func CheckNoSecrets(t *testing.T, err error, rc *Receiver, secrets ...string) {
	t.Helper()
	if err == nil {
		return
	}
	for _, secret := range append([]string{rc.Listener.Addr().String(), SecretPart}, secrets...) {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error %q holds the secret %q", err, secret)
		}
	}
}
