package teams_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/delivery/httppost"
	"github.com/heraldhq/herald/delivery/teams"
)

func TestCard(t *testing.T) {
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ int) { answerWorkflow(w, r) })
	d := newDeliverer(t, rc, teams.Config{})
	m := newMessage(rc.HookURL())
	m.Status = delivery.StatusFailed
	m.Subject = "kpi_report <failed> &\n  retried"
	m.Text = "The report could not be built.\nSee the logs."
	m.Error = `query "revenue": connection refused`
	if err := d.Deliver(t.Context(), m); err != nil {
		t.Fatalf("Deliver = %v, want success", err)
	}
	reqs := rc.Requests()
	if len(reqs) != 1 {
		t.Fatalf("receiver got %d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Path != hookPath {
		t.Errorf("posted to %q, want %q", r.Path, hookPath)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	if got := r.Header.Get("Authorization"); got != "" {
		t.Errorf("Authorization = %q, want none", got)
	}
	got := decode(t, r)
	if got.Type != "message" {
		t.Errorf("type = %q, want message", got.Type)
	}
	a := got.Attachments[0]
	if a.ContentType != "application/vnd.microsoft.card.adaptive" {
		t.Errorf("contentType = %q, want application/vnd.microsoft.card.adaptive", a.ContentType)
	}
	var raw struct {
		Attachments []map[string]json.RawMessage `json:"attachments"`
	}
	if err := json.Unmarshal(r.Body, &raw); err != nil {
		t.Fatal(err)
	}
	if u, ok := raw.Attachments[0]["contentUrl"]; !ok || string(u) != "null" {
		t.Errorf("contentUrl = %s (present: %t), want null", u, ok)
	}
	c := a.Content
	if c.Schema != "http://adaptivecards.io/schemas/adaptive-card.json" || c.Type != "AdaptiveCard" || c.Version != "1.4" {
		t.Errorf("card $schema, type, version = %q, %q, %q; want the Adaptive Card schema, AdaptiveCard, 1.4", c.Schema, c.Type, c.Version)
	}
	if len(c.Body) != 4 {
		t.Fatalf("card body has %d elements, want title, text, facts and error:\n%s", len(c.Body), r.Body)
	}
	if e := c.Body[0]; e.Type != "TextBlock" || e.Text != "kpi_report <failed> & retried" || e.Weight != "Bolder" || e.Size != "Medium" || !e.Wrap {
		t.Errorf("title = %+v, want a bold, medium, wrapped TextBlock with the subject on one line", e)
	}
	if e := c.Body[1]; e.Type != "TextBlock" || e.Text != m.Text || !e.Wrap || e.Weight != "" {
		t.Errorf("text = %+v, want a wrapped TextBlock with the text", e)
	}
	e := c.Body[2]
	wantFacts := [][2]string{{"Status", "failed"}, {"Agent", "kpi_report"}, {"Run", m.RunID}}
	if e.Type != "FactSet" || len(e.Facts) != len(wantFacts) {
		t.Fatalf("facts = %+v, want a FactSet of %v", e, wantFacts)
	}
	for i, f := range wantFacts {
		if e.Facts[i].Title != f[0] || e.Facts[i].Value != f[1] {
			t.Errorf("fact %d = %+v, want %v", i, e.Facts[i], f)
		}
	}
	if e := c.Body[3]; e.Type != "TextBlock" || e.Text != m.Error || e.Color != "Attention" || !e.Wrap {
		t.Errorf("error = %+v, want a wrapped TextBlock in the attention colour with the error", e)
	}
}

func TestCardLeavesOut(t *testing.T) {
	tests := []struct {
		name      string
		edit      func(m *delivery.Message)
		wantTypes []string
	}{
		{"no error when the run succeeded", func(m *delivery.Message) { m.Error = "stale" }, []string{"TextBlock", "TextBlock", "FactSet"}},
		{"no error twice", func(m *delivery.Message) {
			m.Status, m.Text, m.Error = delivery.StatusTimedOut, "run timed out", "run timed out"
		}, []string{"TextBlock", "TextBlock", "FactSet"}},
		{"no empty text", func(m *delivery.Message) { m.Text = " \n" }, []string{"TextBlock", "FactSet"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ int) { answerLegacy(w, r) })
			d := newDeliverer(t, rc, teams.Config{})
			m := newMessage(rc.HookURL())
			tt.edit(m)
			if err := d.Deliver(t.Context(), m); err != nil {
				t.Fatalf("Deliver = %v, want success", err)
			}
			var types []string
			for _, e := range decode(t, rc.Requests()[0]).Attachments[0].Content.Body {
				types = append(types, e.Type)
			}
			if strings.Join(types, ",") != strings.Join(tt.wantTypes, ",") {
				t.Errorf("card body = %v, want %v", types, tt.wantTypes)
			}
		})
	}
}

func TestCardLimits(t *testing.T) {
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ int) { answerWorkflow(w, r) })
	d := newDeliverer(t, rc, teams.Config{})
	m := newMessage(rc.HookURL())
	m.Status = delivery.StatusFailed
	m.Subject = strings.Repeat("é", 1000)
	m.Text = strings.Repeat("x", 50_000)
	m.Error = strings.Repeat("e", 10_000)
	if err := d.Deliver(t.Context(), m); err != nil {
		t.Fatalf("Deliver = %v, want success", err)
	}
	r := rc.Requests()[0]
	if len(r.Body) > 28_000 {
		t.Errorf("body is %d bytes, above Teams' limit of about 28 KB", len(r.Body))
	}
	body := decode(t, r).Attachments[0].Content.Body
	for i, limit := range map[int]int{0: 500, 1: 20_000, 3: 4_000} {
		if s := body[i].Text; len(s) > limit || len(s) < limit-10 || !strings.HasSuffix(s, "…") {
			t.Errorf("element %d has %d bytes and ends %q, want just under %d ending in an ellipsis", i, len(s), s[max(len(s)-8, 0):], limit)
		}
	}
	if strings.ContainsRune(body[0].Text, '\uFFFD') {
		t.Errorf("title cut inside a character: %q", body[0].Text[len(body[0].Text)-8:])
	}
}

func TestTargets(t *testing.T) {
	tests := []struct {
		name     string
		cfg      func(rc *receiver) teams.Config
		to       func(rc *receiver) string
		wantPost bool
	}{
		{"target URL", func(*receiver) teams.Config { return teams.Config{} }, (*receiver).HookURL, true},
		{"target URL over the default", func(*receiver) teams.Config { return teams.Config{WebhookURL: "http://127.0.0.1:1/elsewhere"} }, (*receiver).HookURL, true},
		{"default URL", func(rc *receiver) teams.Config { return teams.Config{WebhookURL: rc.HookURL()} }, func(*receiver) string { return "" }, true},
		{"no URL", func(*receiver) teams.Config { return teams.Config{} }, func(*receiver) string { return "" }, false},
		{"not a URL", func(rc *receiver) teams.Config { return teams.Config{WebhookURL: rc.HookURL()} }, func(*receiver) string { return "ops-channel" }, false},
		{"not http", func(rc *receiver) teams.Config { return teams.Config{WebhookURL: rc.HookURL()} }, func(rc *receiver) string {
			return "ftp" + strings.TrimPrefix(rc.HookURL(), "http")
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ int) { answerWorkflow(w, r) })
			d := newDeliverer(t, rc, tt.cfg(rc))
			err := d.Deliver(t.Context(), newMessage(tt.to(rc)))
			reqs := rc.Requests()
			if !tt.wantPost {
				if err == nil || !delivery.IsPermanent(err) {
					t.Errorf("Deliver = %v, want a permanent error", err)
				}
				if len(reqs) != 0 {
					t.Errorf("receiver got %d requests, want none", len(reqs))
				}
				checkNoSecrets(t, err, rc)
				return
			}
			if err != nil {
				t.Fatalf("Deliver = %v, want success", err)
			}
			if len(reqs) != 1 || reqs[0].Path != hookPath {
				t.Errorf("requests = %+v, want one to %s", reqs, hookPath)
			}
		})
	}
}

func TestRateLimitedLong(t *testing.T) {
	rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
		w.Header().Set("Retry-After", "60")
		http.Error(w, "Too many requests", http.StatusTooManyRequests)
	})
	d := newDeliverer(t, rc, teams.Config{})
	err := d.Deliver(t.Context(), newMessage(rc.HookURL()))
	if err == nil || delivery.IsPermanent(err) {
		t.Fatalf("Deliver = %v, want a transient error", err)
	}
	if delay, ok := delivery.RetryDelay(err); !ok || delay != time.Minute {
		t.Errorf("RetryDelay(%v) = %v, %t; want 1m0s, true", err, delay, ok)
	}
	if !strings.Contains(err.Error(), "429") {
		t.Errorf("error %q does not name the status", err)
	}
	if n := len(rc.Requests()); n != 1 {
		t.Errorf("receiver got %d requests, want 1: a Retry-After above MaxWait ends the call", n)
	}
	checkNoSecrets(t, err, rc)
}

func TestRateLimitedShort(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		answerWorkflow(w, r)
	})
	d := newDeliverer(t, rc, teams.Config{HTTP: httppost.Options{MaxWait: 2 * time.Second, Retries: 1}})
	start := time.Now()
	if err := d.Deliver(t.Context(), newMessage(rc.HookURL())); err != nil {
		t.Fatalf("Deliver = %v, want success after waiting out the Retry-After", err)
	}
	if n := len(rc.Requests()); n != 2 {
		t.Errorf("receiver got %d requests, want 2", n)
	}
	if took := time.Since(start); took < 900*time.Millisecond {
		t.Errorf("Deliver took %v, less than the Retry-After of 1s", took)
	}
}

func TestServerErrorThenSuccess(t *testing.T) {
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n <= 2 { // the call without retries, then the first try of the one with
			http.Error(w, "oops", http.StatusInternalServerError)
			return
		}
		answerLegacy(w, r)
	})
	// Retries within the call are made only when asked for: under the
	// scheduler, each Deliver is one attempt (see httppost).
	d := newDeliverer(t, rc, teams.Config{})
	if err := d.Deliver(t.Context(), newMessage(rc.HookURL())); err == nil || delivery.IsPermanent(err) {
		t.Fatalf("Deliver = %v, want a transient error: one request per call", err)
	}
	d = newDeliverer(t, rc, teams.Config{HTTP: httppost.Options{Retries: 1}})
	if err := d.Deliver(t.Context(), newMessage(rc.HookURL())); err != nil {
		t.Fatalf("Deliver = %v, want success on the retry within the call", err)
	}
	if n := len(rc.Requests()); n != 3 {
		t.Errorf("receiver got %d requests, want 3", n)
	}
}

func TestBadRequestPermanent(t *testing.T) {
	rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":{"code":"InvalidRequestContent","message":"The input body for trigger 'manual' of type 'Request' did not match its schema definition."}}`)
	})
	d := newDeliverer(t, rc, teams.Config{})
	err := d.Deliver(t.Context(), newMessage(rc.HookURL()))
	if err == nil || !delivery.IsPermanent(err) {
		t.Fatalf("Deliver = %v, want a permanent error", err)
	}
	if !strings.Contains(err.Error(), "400") || !strings.Contains(err.Error(), "InvalidRequestContent") {
		t.Errorf("error %q does not name the status and the receiver's code", err)
	}
	if n := len(rc.Requests()); n != 1 {
		t.Errorf("receiver got %d requests, want 1: a 400 is not retried", n)
	}
	checkNoSecrets(t, err, rc)
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ int) { hang(w, r) })
	d := newDeliverer(t, rc, teams.Config{HTTP: httppost.Options{Timeout: 200 * time.Millisecond, Retries: -1}})
	start := time.Now()
	err := d.Deliver(t.Context(), newMessage(rc.HookURL()))
	took := time.Since(start)
	if err == nil || delivery.IsPermanent(err) {
		t.Fatalf("Deliver = %v, want a transient error", err)
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		t.Errorf("Deliver = %v, a context error; the caller's context did not end", err)
	}
	if !strings.Contains(err.Error(), "timeout") {
		t.Errorf("error %q does not say the attempt timed out", err)
	}
	if took < 200*time.Millisecond || took > 2*time.Second {
		t.Errorf("Deliver took %v, want about the 200ms timeout", took)
	}
	checkNoSecrets(t, err, rc)
}

func TestSuccessBodies(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		body      string
		wantErr   bool
		permanent bool
	}{
		{name: "Workflows 202", status: http.StatusAccepted},
		{name: "legacy 1", status: http.StatusOK, body: "1"},
		{name: "legacy 1 and a new line", status: http.StatusOK, body: "1\r\n"},
		{name: "JSON", status: http.StatusOK, body: `{"status":"accepted"}`},
		{name: "legacy 429 in a 200", status: http.StatusOK, wantErr: true,
			body: "Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error 429 with ContextId tcid=0,server=msgapi-production-eus-azsc2-4-170,cv=deadbeef.0.."},
		{name: "legacy 413 in a 200", status: http.StatusOK, wantErr: true, permanent: true,
			body: "Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error 413 with ContextId tcid=0."},
		{name: "legacy 400 in a 200", status: http.StatusOK, wantErr: true, permanent: true,
			body: "Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error 400 with ContextId tcid=0."},
		{name: "legacy 502 in a 200", status: http.StatusOK, wantErr: true,
			body: "Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error 502 with ContextId tcid=0."},
		{name: "legacy failure without a status", status: http.StatusOK, wantErr: true,
			body: "Webhook message delivery failed with error: Microsoft Teams endpoint returned an error."},
		{name: "HTML", status: http.StatusOK, wantErr: true, body: "<html><body>Sign in</body></html>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			})
			d := newDeliverer(t, rc, teams.Config{})
			err := d.Deliver(t.Context(), newMessage(rc.HookURL()))
			if n := len(rc.Requests()); n != 1 {
				t.Errorf("receiver got %d requests, want 1", n)
			}
			if !tt.wantErr {
				if err != nil {
					t.Errorf("Deliver = %v, want success", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Deliver succeeded, want an error")
			}
			if got := delivery.IsPermanent(err); got != tt.permanent {
				t.Errorf("IsPermanent(%v) = %t, want %t", err, got, tt.permanent)
			}
			if _, ok := delivery.RetryDelay(err); ok {
				t.Errorf("RetryDelay(%v) reports a delay, want none", err)
			}
			if !strings.Contains(err.Error(), "failure in the body") || !strings.Contains(err.Error(), tt.body[:20]) {
				t.Errorf("error %q does not say the 2xx body reports a failure, and quote it", err)
			}
			checkNoSecrets(t, err, rc)
		})
	}
}

func TestNew(t *testing.T) {
	for _, bad := range []string{"outlook.office.com/webhookb2/hooksecret", "ftp://example.com/hooksecret", "https:///hooksecret", "://hooksecret"} {
		_, err := teams.New(teams.Config{WebhookURL: bad})
		switch {
		case err == nil:
			t.Errorf("New(WebhookURL: %q) succeeded, want an error", bad)
		case !strings.Contains(err.Error(), "Config.WebhookURL"):
			t.Errorf("New(WebhookURL: %q) = %q, want it to name Config.WebhookURL", bad, err)
		case strings.Contains(err.Error(), "hooksecret"):
			t.Errorf("New(WebhookURL: %q) = %q, which quotes the URL", bad, err)
		}
	}
	for _, good := range []string{"", "https://example.webhook.office.com/webhookb2/x", "https://prod-00.westus.logic.azure.com:443/workflows/x/triggers/manual/paths/invoke?sig=y"} {
		if d, err := teams.New(teams.Config{WebhookURL: good}); err != nil || d == nil {
			t.Errorf("New(WebhookURL: %q) = %v, %v; want a Deliverer", good, d, err)
		}
	}
}
