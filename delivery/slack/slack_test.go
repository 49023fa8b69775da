package slack_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/delivery/httppost"
	"github.com/heraldhq/herald/delivery/slack"
)

// units counts s in UTF-16 code units, as the package's limits do.
func units(s string) int { return len(utf16.Encode([]rune(s))) }

func TestWebhookPayload(t *testing.T) {
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ int) { answerOK(w, r) })
	d := newDeliverer(t, rc, slack.Config{Token: testToken})
	m := newMessage(rc.HookURL())
	m.Subject = "kpi_report <weekly> & more\n  second line"
	m.Text = "Revenue *up* 3% <https://evil.example|click> & <!channel>\nNext line."
	if err := d.Deliver(t.Context(), m); err != nil {
		t.Fatalf("Deliver = %v, want success", err)
	}
	reqs := rc.Requests()
	if len(reqs) != 1 {
		t.Fatalf("receiver got %d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Path != hookPath {
		t.Errorf("posted to %q, want the webhook's path %q", r.Path, hookPath)
	}
	if got := r.Header.Get("Authorization"); got != "" {
		t.Errorf("Authorization = %q sent to an incoming webhook, want none", got)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	if strings.Contains(string(r.Body), "secrettoken") {
		t.Errorf("the body sent to an incoming webhook holds the token:\n%s", r.Body)
	}
	p := decode(t, r)
	const (
		wantHeader  = "kpi_report <weekly> & more second line"
		wantSection = "Revenue *up* 3% &lt;https://evil.example|click&gt; &amp; &lt;!channel&gt;\nNext line."
	)
	if want := "kpi_report &lt;weekly&gt; &amp; more second line\n" + wantSection; p.Text != want {
		t.Errorf("text = %q, want %q", p.Text, want)
	}
	if len(p.Blocks) != 2 {
		t.Fatalf("got %d blocks, want a header and a section: %s", len(p.Blocks), r.Body)
	}
	if b := p.Blocks[0]; b.Type != "header" || b.Text.Type != "plain_text" || b.Text.Text != wantHeader {
		t.Errorf("block 0 = %+v, want a header with plain_text %q", b, wantHeader)
	}
	if b := p.Blocks[1]; b.Type != "section" || b.Text.Type != "mrkdwn" || b.Text.Text != wantSection {
		t.Errorf("block 1 = %+v, want a section with mrkdwn %q", b, wantSection)
	}
	if p.Channel != nil || p.UnfurlLinks != nil || p.UnfurlMedia != nil || p.Metadata != nil {
		t.Errorf("an incoming webhook got chat.postMessage's fields: %s", r.Body)
	}
}

func TestPostMessagePayload(t *testing.T) {
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ int) { answerOK(w, r) })
	d := newDeliverer(t, rc, slack.Config{Token: testToken})
	m := newMessage("#ops")
	if err := d.Deliver(t.Context(), m); err != nil {
		t.Fatalf("Deliver = %v, want success", err)
	}
	reqs := rc.Requests()
	if len(reqs) != 1 {
		t.Fatalf("receiver got %d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Path != "/api/chat.postMessage" {
		t.Errorf("posted to %q, want /api/chat.postMessage", r.Path)
	}
	if got, want := r.Header.Get("Authorization"), "Bearer "+testToken; got != want {
		t.Errorf("Authorization = %q, want %q", got, want)
	}
	if got, want := r.Header.Get("Content-Type"), "application/json; charset=utf-8"; got != want {
		t.Errorf("Content-Type = %q, want %q", got, want)
	}
	p := decode(t, r)
	if p.Channel == nil || *p.Channel != "#ops" {
		t.Errorf("channel = %v, want #ops", p.Channel)
	}
	if want := m.Subject + "\n" + m.Text; p.Text != want {
		t.Errorf("text = %q, want %q", p.Text, want)
	}
	if len(p.Blocks) != 2 || p.Blocks[0].Text.Text != m.Subject || p.Blocks[1].Text.Text != m.Text {
		t.Errorf("blocks = %+v, want the subject's header and the text's section", p.Blocks)
	}
	if p.UnfurlLinks == nil || *p.UnfurlLinks || p.UnfurlMedia == nil || *p.UnfurlMedia {
		t.Errorf("unfurl_links, unfurl_media = %v, %v; want false, false", p.UnfurlLinks, p.UnfurlMedia)
	}
	switch {
	case p.Metadata == nil:
		t.Errorf("no metadata: %s", r.Body)
	case p.Metadata.EventType != "herald_delivery":
		t.Errorf("metadata event_type = %q, want herald_delivery", p.Metadata.EventType)
	case p.Metadata.EventPayload["idempotency_key"] != m.IdempotencyKey || p.Metadata.EventPayload["run_id"] != m.RunID:
		t.Errorf("metadata event_payload = %v, want idempotency_key %q and run_id %q", p.Metadata.EventPayload, m.IdempotencyKey, m.RunID)
	}
}

func TestPayloadLimits(t *testing.T) {
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ int) { answerOK(w, r) })
	d := newDeliverer(t, rc, slack.Config{})
	m := newMessage(rc.HookURL())
	m.Subject = strings.Repeat("s", 149) + "😀 and more"
	m.Text = strings.Repeat("&", 5000)
	if err := d.Deliver(t.Context(), m); err != nil {
		t.Fatalf("Deliver = %v, want success", err)
	}
	p := decode(t, rc.Requests()[0])
	if len(p.Blocks) != 2 {
		t.Fatalf("got %d blocks, want 2", len(p.Blocks))
	}
	// The emoji takes two code units: it does not fit after 149 s.
	if h, want := p.Blocks[0].Text.Text, strings.Repeat("s", 149)+"…"; h != want {
		t.Errorf("header = %q (%d units), want %q", h, units(h), want)
	}
	s := p.Blocks[1].Text.Text
	if n := units(s); n > 3000 || n < 2990 {
		t.Errorf("section has %d UTF-16 units, want a cut just under 3000", n)
	}
	if rest := strings.ReplaceAll(strings.TrimSuffix(s, "…"), "&amp;", ""); rest != "" || !strings.HasSuffix(s, "…") {
		t.Errorf("section cut inside an escape or without an ellipsis: ends %q", s[max(len(s)-20, 0):])
	}
	if n := units(p.Text); n > 4000 || !strings.HasSuffix(p.Text, "…") {
		t.Errorf("text has %d UTF-16 units and ends %q, want at most 4000 ending in an ellipsis", n, p.Text[max(len(p.Text)-20, 0):])
	}
}

func TestRouting(t *testing.T) {
	tests := []struct {
		name        string
		cfg         func(rc *receiver) slack.Config
		to          func(rc *receiver) string
		wantPath    string // "" when nothing may be posted
		wantChannel string
	}{{
		name:     "URL target is a webhook",
		cfg:      func(*receiver) slack.Config { return slack.Config{Token: testToken, Channel: "#default"} },
		to:       func(rc *receiver) string { return "HTTP://" + strings.TrimPrefix(rc.HookURL(), "http://") },
		wantPath: hookPath,
	}, {
		name:        "channel name",
		cfg:         func(*receiver) slack.Config { return slack.Config{Token: testToken} },
		to:          func(*receiver) string { return " #ops " },
		wantPath:    "/api/chat.postMessage",
		wantChannel: "#ops",
	}, {
		name:        "channel id",
		cfg:         func(*receiver) slack.Config { return slack.Config{Token: testToken} },
		to:          func(*receiver) string { return "C0123ABC" },
		wantPath:    "/api/chat.postMessage",
		wantChannel: "C0123ABC",
	}, {
		name: "no address: the default webhook first",
		cfg: func(rc *receiver) slack.Config {
			return slack.Config{Token: testToken, WebhookURL: rc.HookURL(), Channel: "#default"}
		},
		to:       func(*receiver) string { return "" },
		wantPath: hookPath,
	}, {
		name:        "no address: the default channel",
		cfg:         func(*receiver) slack.Config { return slack.Config{Token: testToken, Channel: "#default"} },
		to:          func(*receiver) string { return "" },
		wantPath:    "/api/chat.postMessage",
		wantChannel: "#default",
	}, {
		name: "no address and no default",
		cfg:  func(*receiver) slack.Config { return slack.Config{Token: testToken} },
		to:   func(*receiver) string { return "" },
	}, {
		name: "channel without a token",
		cfg:  func(*receiver) slack.Config { return slack.Config{} },
		to:   func(*receiver) string { return "#ops" },
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ int) { answerOK(w, r) })
			d := newDeliverer(t, rc, tt.cfg(rc))
			err := d.Deliver(t.Context(), newMessage(tt.to(rc)))
			reqs := rc.Requests()
			if tt.wantPath == "" {
				if err == nil || !delivery.IsPermanent(err) {
					t.Errorf("Deliver = %v, want a permanent error", err)
				}
				if len(reqs) != 0 {
					t.Errorf("receiver got %d requests, want none", len(reqs))
				}
				return
			}
			if err != nil {
				t.Fatalf("Deliver = %v, want success", err)
			}
			if len(reqs) != 1 || reqs[0].Path != tt.wantPath {
				t.Fatalf("requests = %+v, want one to %s", reqs, tt.wantPath)
			}
			if p := decode(t, reqs[0]); tt.wantChannel != "" && (p.Channel == nil || *p.Channel != tt.wantChannel) {
				t.Errorf("channel = %v, want %q", p.Channel, tt.wantChannel)
			}
		})
	}
}

func TestChannelWithoutTokenSaysSo(t *testing.T) {
	d, err := slack.New(slack.Config{})
	if err != nil {
		t.Fatal(err)
	}
	err = d.Deliver(t.Context(), newMessage("#ops"))
	if err == nil || !delivery.IsPermanent(err) || !strings.Contains(err.Error(), "Config.Token") {
		t.Errorf("Deliver(#ops) without a token = %v, want a permanent error naming Config.Token", err)
	}
}

// targets are the two kinds of address every HTTP behaviour is checked
// with.
var targets = []struct {
	name string
	to   func(rc *receiver) string
}{
	{"webhook", (*receiver).HookURL},
	{"chat.postMessage", func(*receiver) string { return "#ops" }},
}

func TestRateLimitedLong(t *testing.T) {
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
				w.Header().Set("Retry-After", "60")
				w.WriteHeader(http.StatusTooManyRequests)
				io.WriteString(w, "rate_limited")
			})
			d := newDeliverer(t, rc, slack.Config{Token: testToken})
			err := d.Deliver(t.Context(), newMessage(tg.to(rc)))
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
		})
	}
}

func TestRateLimitedShort(t *testing.T) {
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			t.Parallel()
			rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
				if n == 1 {
					w.Header().Set("Retry-After", "1")
					w.WriteHeader(http.StatusTooManyRequests)
					return
				}
				answerOK(w, r)
			})
			d := newDeliverer(t, rc, slack.Config{Token: testToken, HTTP: httppost.Options{MaxWait: 2 * time.Second, Retries: 1}})
			start := time.Now()
			if err := d.Deliver(t.Context(), newMessage(tg.to(rc))); err != nil {
				t.Fatalf("Deliver = %v, want success after waiting out the Retry-After", err)
			}
			if n := len(rc.Requests()); n != 2 {
				t.Errorf("receiver got %d requests, want 2", n)
			}
			if took := time.Since(start); took < 900*time.Millisecond {
				t.Errorf("Deliver took %v, less than the Retry-After of 1s", took)
			}
		})
	}
}

func TestServerErrorThenSuccess(t *testing.T) {
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
				if n <= 2 { // the call without retries, then the first try of the one with
					http.Error(w, "oops", http.StatusInternalServerError)
					return
				}
				answerOK(w, r)
			})
			// Retries within the call are made only when asked for: under
			// the scheduler, each Deliver is one attempt (see httppost).
			d := newDeliverer(t, rc, slack.Config{Token: testToken})
			if err := d.Deliver(t.Context(), newMessage(tg.to(rc))); err == nil || delivery.IsPermanent(err) {
				t.Fatalf("Deliver = %v, want a transient error: one request per call", err)
			}
			d = newDeliverer(t, rc, slack.Config{Token: testToken, HTTP: httppost.Options{Retries: 1}})
			if err := d.Deliver(t.Context(), newMessage(tg.to(rc))); err != nil {
				t.Fatalf("Deliver = %v, want success on the retry within the call", err)
			}
			if n := len(rc.Requests()); n != 3 {
				t.Errorf("receiver got %d requests, want 3", n)
			}
		})
	}
}

func TestServerErrorTransient(t *testing.T) {
	rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
		http.Error(w, "oops", http.StatusBadGateway)
	})
	d := newDeliverer(t, rc, slack.Config{Token: testToken, HTTP: httppost.Options{Retries: 1}})
	err := d.Deliver(t.Context(), newMessage(rc.HookURL()))
	if err == nil || delivery.IsPermanent(err) || !strings.Contains(err.Error(), "502") {
		t.Errorf("Deliver = %v, want a transient error naming status 502", err)
	}
	if n := len(rc.Requests()); n != 2 {
		t.Errorf("receiver got %d requests, want 2 (one retry)", n)
	}
	checkNoSecrets(t, err, rc)
}

func TestBadRequestPermanent(t *testing.T) {
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
				http.Error(w, "invalid_payload", http.StatusBadRequest)
			})
			d := newDeliverer(t, rc, slack.Config{Token: testToken})
			err := d.Deliver(t.Context(), newMessage(tg.to(rc)))
			if err == nil || !delivery.IsPermanent(err) {
				t.Fatalf("Deliver = %v, want a permanent error", err)
			}
			if !strings.Contains(err.Error(), "400") || !strings.Contains(err.Error(), "invalid_payload") {
				t.Errorf("error %q does not name the status and Slack's code", err)
			}
			if _, ok := delivery.RetryDelay(err); ok {
				t.Errorf("RetryDelay(%v) reports a delay, want none", err)
			}
			if n := len(rc.Requests()); n != 1 {
				t.Errorf("receiver got %d requests, want 1: a 400 is not retried", n)
			}
			checkNoSecrets(t, err, rc)
		})
	}
}

func TestTimeout(t *testing.T) {
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			t.Parallel()
			rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ int) { hang(w, r) })
			d := newDeliverer(t, rc, slack.Config{Token: testToken, HTTP: httppost.Options{Timeout: 200 * time.Millisecond, Retries: -1}})
			start := time.Now()
			err := d.Deliver(t.Context(), newMessage(tg.to(rc)))
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
		})
	}
}

func TestAPIErrors(t *testing.T) {
	tests := []struct {
		name       string
		body       string
		retryAfter string
		permanent  bool
		wantDelay  time.Duration // 0: no RetryAfter
		wantCode   string        // "": not an *APIError
	}{
		{name: "channel_not_found", body: `{"ok":false,"error":"channel_not_found"}`, permanent: true, wantCode: "channel_not_found"},
		{name: "not_in_channel", body: `{"ok":false,"error":"not_in_channel"}`, permanent: true, wantCode: "not_in_channel"},
		{name: "invalid_auth", body: `{"ok":false,"error":"invalid_auth"}`, permanent: true, wantCode: "invalid_auth"},
		{name: "token_revoked", body: `{"ok":false,"error":"token_revoked"}`, permanent: true, wantCode: "token_revoked"},
		{name: "missing_scope", body: `{"ok":false,"error":"missing_scope","needed":"chat:write"}`, permanent: true, wantCode: "missing_scope"},
		{name: "invalid_blocks", body: `{"ok":false,"error":"invalid_blocks"}`, permanent: true, wantCode: "invalid_blocks"},
		{name: "ratelimited with Retry-After", body: `{"ok":false,"error":"ratelimited"}`, retryAfter: "30", wantDelay: 30 * time.Second, wantCode: "ratelimited"},
		{name: "ratelimited", body: `{"ok":false,"error":"ratelimited"}`, wantCode: "ratelimited"},
		{name: "internal_error", body: `{"ok":false,"error":"internal_error"}`, retryAfter: "30", wantCode: "internal_error"},
		{name: "fatal_error", body: `{"ok":false,"error":"fatal_error"}`, wantCode: "fatal_error"},
		{name: "service_unavailable", body: `{"ok":false,"error":"service_unavailable"}`, wantCode: "service_unavailable"},
		{name: "request_timeout", body: `{"ok":false,"error":"request_timeout"}`, wantCode: "request_timeout"},
		{name: "team_added_to_org", body: `{"ok":false,"error":"team_added_to_org"}`, wantCode: "team_added_to_org"},
		{name: "HTML", body: `<html><body>Bad gateway</body></html>`},
		{name: "empty", body: ``},
		{name: "no error code", body: `{"ok":false}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
				if tt.retryAfter != "" {
					w.Header().Set("Retry-After", tt.retryAfter)
				}
				io.WriteString(w, tt.body)
			})
			d := newDeliverer(t, rc, slack.Config{Token: testToken})
			err := d.Deliver(t.Context(), newMessage("#ops"))
			if err == nil {
				t.Fatal("Deliver succeeded, want an error")
			}
			if got := delivery.IsPermanent(err); got != tt.permanent {
				t.Errorf("IsPermanent(%v) = %t, want %t", err, got, tt.permanent)
			}
			delay, ok := delivery.RetryDelay(err)
			if tt.wantDelay > 0 && (!ok || delay != tt.wantDelay) || tt.wantDelay == 0 && ok {
				t.Errorf("RetryDelay(%v) = %v, %t; want %v", err, delay, ok, tt.wantDelay)
			}
			apiErr, isAPI := errors.AsType[*slack.APIError](err)
			switch {
			case tt.wantCode == "" && isAPI:
				t.Errorf("Deliver = %#v, want an error that is not an *APIError", apiErr)
			case tt.wantCode == "":
				if !strings.Contains(err.Error(), "malformed response") {
					t.Errorf("Deliver = %q, want it to say the response is malformed", err)
				}
			case !isAPI:
				t.Errorf("Deliver = %v, want an *APIError", err)
			case apiErr.Method != "chat.postMessage" || apiErr.Code != tt.wantCode:
				t.Errorf("APIError = %+v, want chat.postMessage and %q", apiErr, tt.wantCode)
			case err.Error() != "slack chat.postMessage: "+tt.wantCode:
				t.Errorf("error text = %q, want %q", err, "slack chat.postMessage: "+tt.wantCode)
			}
			if n := len(rc.Requests()); n != 1 {
				t.Errorf("receiver got %d requests, want 1: an ok:false answer is not retried within the call", n)
			}
			checkNoSecrets(t, err, rc)
		})
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name      string
		cfg       slack.Config
		wantField string // "": valid
	}{
		{name: "zero", cfg: slack.Config{}},
		{name: "everything", cfg: slack.Config{Token: testToken, APIURL: "http://127.0.0.1:1/api/", WebhookURL: "https://hooks.slack.com/services/T/B/x", Channel: "#ops"}},
		{name: "APIURL not a URL", cfg: slack.Config{APIURL: "slack.com/api"}, wantField: "Config.APIURL"},
		{name: "APIURL not http", cfg: slack.Config{APIURL: "ftp://slack.com/api"}, wantField: "Config.APIURL"},
		{name: "WebhookURL not a URL", cfg: slack.Config{WebhookURL: "hooks.slack.com/services/T/B/hooksecret"}, wantField: "Config.WebhookURL"},
		{name: "WebhookURL without host", cfg: slack.Config{WebhookURL: "https:///services/T/B/hooksecret"}, wantField: "Config.WebhookURL"},
		{name: "Token with Bearer", cfg: slack.Config{Token: "Bearer " + testToken}, wantField: "Config.Token"},
		{name: "Token not a Slack token", cfg: slack.Config{Token: "secrettoken"}, wantField: "Config.Token"},
		{name: "Token with a new line", cfg: slack.Config{Token: testToken + "\n"}, wantField: "Config.Token"},
		{name: "Channel without Token", cfg: slack.Config{Channel: "#ops"}, wantField: "Config.Channel"},
		{name: "Channel with a space", cfg: slack.Config{Token: testToken, Channel: "#o ps"}, wantField: "Config.Channel"},
		{name: "Channel is a URL", cfg: slack.Config{Token: testToken, Channel: "https://hooks.slack.com/services/T/B/hooksecret"}, wantField: "Config.WebhookURL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := slack.New(tt.cfg)
			if tt.wantField == "" {
				if err != nil || d == nil {
					t.Errorf("New = %v, %v; want a Deliverer", d, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("New succeeded, want an error naming %s", tt.wantField)
			}
			if !strings.Contains(err.Error(), tt.wantField) {
				t.Errorf("New = %q, want it to name %s", err, tt.wantField)
			}
			for _, secret := range []string{"hooksecret", "secrettoken"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("New = %q, which quotes a secret", err)
				}
			}
		})
	}
}
