package slack_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/delivery/deliverytest"
	"github.com/heraldhq/herald/delivery/slack"
)

// conformanceReceiver answers by address: incoming webhooks at
// /hooks/<case>, chat.postMessage by channel name.
func conformanceReceiver(w http.ResponseWriter, r *http.Request) {
	kind := strings.TrimPrefix(r.URL.Path, "/hooks/")
	if r.URL.Path == "/api/chat.postMessage" {
		var p struct {
			Channel string `json:"channel"`
		}
		if err := json.Unmarshal(mustBody(r), &p); err != nil {
			http.Error(w, "invalid_json", http.StatusBadRequest)
			return
		}
		kind = strings.TrimPrefix(p.Channel, "#")
	}
	switch kind {
	case "ok":
		answerOK(w, r)
	case "hang":
		hang(w, r)
	case "gone":
		if strings.HasPrefix(r.URL.Path, "/api/") {
			io.WriteString(w, `{"ok":false,"error":"channel_not_found"}`)
			return
		}
		http.Error(w, "no_service", http.StatusNotFound)
	case "busy":
		w.Header().Set("Retry-After", "60")
		if strings.HasPrefix(r.URL.Path, "/api/") {
			io.WriteString(w, `{"ok":false,"error":"ratelimited"}`)
			return
		}
		http.Error(w, "rate_limited", http.StatusTooManyRequests)
	case "down":
		if strings.HasPrefix(r.URL.Path, "/api/") {
			io.WriteString(w, `{"ok":false,"error":"service_unavailable"}`)
			return
		}
		http.Error(w, "down", http.StatusServiceUnavailable)
	default:
		http.Error(w, "invalid_payload", http.StatusBadRequest)
	}
}

// mustBody is r's body, which the receiver has read into memory.
func mustBody(r *http.Request) []byte {
	b, _ := io.ReadAll(r.Body)
	return b
}

func TestConformance(t *testing.T) {
	kinds := []struct {
		name    string
		address func(rc *receiver, kind string) string
	}{
		{"webhook", func(rc *receiver, kind string) string { return rc.URL + "/hooks/" + kind }},
		{"chat.postMessage", func(_ *receiver, kind string) string { return "#" + kind }},
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ int) { conformanceReceiver(w, r) })
			newSlack := func(t *testing.T) delivery.Deliverer {
				return newDeliverer(t, rc, slack.Config{Token: testToken})
			}
			deliverytest.Run(t, newSlack, deliverytest.Cases{
				Channel: "slack",
				To:      k.address(rc, "ok"),
				Slow:    k.address(rc, "hang"),
				Failures: []deliverytest.Failure{
					{Name: "gone", To: k.address(rc, "gone"), Permanent: true},
					{Name: "refused", To: k.address(rc, "refused"), Permanent: true},
					{Name: "rate limited", To: k.address(rc, "busy"), RetryAfter: time.Minute},
					{Name: "unavailable", To: k.address(rc, "down")},
				},
				Delivered: func(t *testing.T, m *delivery.Message) { checkDelivered(t, rc, m) },
			})
		})
	}
}

// checkDelivered fails the test unless rc got m: a post whose header is
// m's subject and, for chat.postMessage, whose metadata holds m's
// idempotency key.
func checkDelivered(t *testing.T, rc *receiver, m *delivery.Message) {
	t.Helper()
	for _, r := range rc.Requests() {
		var p gotPayload
		if json.Unmarshal(r.Body, &p) != nil || len(p.Blocks) == 0 || p.Blocks[0].Text.Text != m.Subject {
			continue
		}
		if p.Metadata != nil && p.Metadata.EventPayload["idempotency_key"] != m.IdempotencyKey {
			t.Errorf("the post of %q has idempotency key %q, want %q", m.Subject, p.Metadata.EventPayload["idempotency_key"], m.IdempotencyKey)
		}
		return
	}
	t.Errorf("the receiver got no post with the header %q", m.Subject)
}
