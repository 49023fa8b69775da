package teams_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/delivery/deliverytest"
	"github.com/heraldhq/herald/delivery/teams"
)

// conformanceReceiver answers by path: /ok, /legacy, /hang, and failures.
func conformanceReceiver(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/ok":
		answerWorkflow(w, r)
	case "/hang":
		hang(w, r)
	case "/gone":
		http.Error(w, "Not found", http.StatusNotFound)
	case "/busy":
		w.Header().Set("Retry-After", "60")
		http.Error(w, "Too many requests", http.StatusTooManyRequests)
	case "/down":
		http.Error(w, "Service unavailable", http.StatusServiceUnavailable)
	case "/legacy-busy":
		w.Write([]byte("Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error 429 with ContextId tcid=0."))
	case "/legacy-too-big":
		w.Write([]byte("Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error 413 with ContextId tcid=0."))
	default:
		http.Error(w, "Bad request", http.StatusBadRequest)
	}
}

func TestConformance(t *testing.T) {
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ int) { conformanceReceiver(w, r) })
	newTeams := func(t *testing.T) delivery.Deliverer { return newDeliverer(t, rc, teams.Config{}) }
	deliverytest.Run(t, newTeams, deliverytest.Cases{
		Channel: "teams",
		To:      rc.URL + "/ok",
		Slow:    rc.URL + "/hang",
		Failures: []deliverytest.Failure{
			{Name: "gone", To: rc.URL + "/gone", Permanent: true},
			{Name: "refused", To: rc.URL + "/refused", Permanent: true},
			{Name: "not a URL", To: "general", Permanent: true},
			{Name: "rate limited", To: rc.URL + "/busy", RetryAfter: time.Minute},
			{Name: "unavailable", To: rc.URL + "/down"},
			{Name: "legacy rate limited", To: rc.URL + "/legacy-busy"},
			{Name: "legacy too big", To: rc.URL + "/legacy-too-big", Permanent: true},
		},
		Delivered: func(t *testing.T, m *delivery.Message) { checkDelivered(t, rc, m) },
	})
}

// checkDelivered fails the test unless rc got a card titled with m's
// subject and naming m's run.
func checkDelivered(t *testing.T, rc *receiver, m *delivery.Message) {
	t.Helper()
	for _, r := range rc.Requests() {
		var got gotMessage
		if json.Unmarshal(r.Body, &got) != nil || len(got.Attachments) != 1 {
			continue
		}
		body := got.Attachments[0].Content.Body
		if len(body) == 0 || body[0].Text != m.Subject {
			continue
		}
		if !strings.Contains(string(r.Body), m.RunID) {
			t.Errorf("the card titled %q does not name the run %s", m.Subject, m.RunID)
		}
		return
	}
	t.Errorf("the receiver got no card titled %q", m.Subject)
}
