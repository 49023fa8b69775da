package callback_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/clock/clocktest"
	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/delivery/callback"
	"github.com/heraldhq/herald/delivery/deliverytest"
	"github.com/heraldhq/herald/delivery/httppost"
	"github.com/heraldhq/herald/webhook"
)

// now is the fixed time of the tests' signatures.
var now = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// fixedClock returns a clock stopped at now.
func fixedClock() *clocktest.Clock { return clocktest.New(now) }

// receiver is a callback receiver on loopback that verifies every request
// with Herald's Standard Webhooks verifier, records what it accepted, and
// answers as respond says (n counts requests from 1; respond reports
// whether the receiver took the callback).
type receiver struct {
	*httptest.Server
	verifier *webhook.Standard
	respond  func(w http.ResponseWriter, r *http.Request, n int) bool

	mu       sync.Mutex
	n        int
	accepted []accepted
	refused  []error
}

// accepted is a request that passed verification.
type accepted struct {
	id      string
	header  http.Header
	payload callback.Payload
}

func newReceiver(t *testing.T, secrets []string, respond func(w http.ResponseWriter, r *http.Request, n int) bool) *receiver {
	t.Helper()
	v, err := webhook.NewStandard(secrets, webhook.WithClock(fixedClock()))
	if err != nil {
		t.Fatal(err)
	}
	rc := &receiver{verifier: v, respond: respond}
	rc.Server = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	rc.mu.Lock()
	rc.n++
	n := rc.n
	rc.mu.Unlock()
	ver, err := rc.verifier.Verify(r.Context(), r.Header, body)
	if err != nil {
		rc.mu.Lock()
		rc.refused = append(rc.refused, err)
		rc.mu.Unlock()
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var p callback.Payload
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		http.Error(w, "bad payload: "+err.Error(), http.StatusBadRequest)
		return
	}
	if rc.respond != nil && !rc.respond(w, r, n) {
		return
	}
	rc.mu.Lock()
	rc.accepted = append(rc.accepted, accepted{id: ver.DeliveryID, header: r.Header.Clone(), payload: p})
	rc.mu.Unlock()
}

func (rc *receiver) got() ([]accepted, []error, int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]accepted(nil), rc.accepted...), append([]error(nil), rc.refused...), rc.n
}

// newSecret returns a fresh secret.
func newSecret(t *testing.T) string {
	t.Helper()
	s, err := callback.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newDeliverer(t *testing.T, rc *receiver, cfg callback.Config) *callback.Deliverer {
	t.Helper()
	cfg.Clock = fixedClock()
	cfg.HTTP.HTTPClient = rc.Client()
	if cfg.HTTP.MaxWait == 0 {
		cfg.HTTP.MaxWait = 2 * time.Second
	}
	if cfg.HTTP.Timeout == 0 {
		cfg.HTTP.Timeout = 5 * time.Second
	}
	d, err := callback.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func message(to string) *delivery.Message {
	return &delivery.Message{
		RunID: "0193a000-0000-7000-8000-000000000001", Owner: "alice", Agent: "kpi_report",
		Status: delivery.StatusFailed, Target: delivery.Target{Channel: "callback", To: to},
		Subject: "kpi_report: run failed", Text: "it <broke> & stopped", Output: json.RawMessage(`{"rows":3}`),
		Error: "store: unavailable", IdempotencyKey: "0193a000-0000-7000-8000-000000000001-0a1b2c3d4e5f6071",
	}
}

func TestDelivered(t *testing.T) {
	secret := newSecret(t)
	rc := newReceiver(t, []string{secret}, nil)
	d := newDeliverer(t, rc, callback.Config{Secrets: []string{secret}})
	m := message(rc.URL + "/hooks/herald")
	if err := d.Deliver(t.Context(), m); err != nil {
		t.Fatalf("Deliver = %v", err)
	}
	acc, refused, _ := rc.got()
	if len(refused) > 0 || len(acc) != 1 {
		t.Fatalf("receiver accepted %d and refused %v, want one accepted", len(acc), refused)
	}
	a := acc[0]
	if a.id != m.IdempotencyKey || a.header.Get("Idempotency-Key") != m.IdempotencyKey {
		t.Errorf("webhook-id %q, Idempotency-Key %q; want the idempotency key %q", a.id, a.header.Get("Idempotency-Key"), m.IdempotencyKey)
	}
	if ct := a.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	want := callback.Payload{Type: callback.EventType, Timestamp: now, Data: callback.Data{
		RunID: m.RunID, Owner: m.Owner, Agent: m.Agent, Status: m.Status, Subject: m.Subject, Text: m.Text,
		Output: m.Output, Error: m.Error, IdempotencyKey: m.IdempotencyKey,
	}}
	gotJSON, _ := json.Marshal(a.payload)
	wantJSON, _ := json.Marshal(want)
	if string(gotJSON) != string(wantJSON) {
		t.Errorf("payload\n got %s\nwant %s", gotJSON, wantJSON)
	}
}

func TestRotation(t *testing.T) {
	oldSecret, newSecret := newSecret(t), newSecret(t)
	// The sender signs with both while receivers move to the new one.
	for _, receiverSecrets := range [][]string{{oldSecret}, {newSecret}, {newSecret, oldSecret}} {
		rc := newReceiver(t, receiverSecrets, nil)
		d := newDeliverer(t, rc, callback.Config{Secrets: []string{oldSecret, newSecret}})
		if err := d.Deliver(t.Context(), message(rc.URL)); err != nil {
			t.Errorf("receiver with %d secret(s): Deliver = %v", len(receiverSecrets), err)
		}
	}
	// A receiver that knows neither refuses.
	rc := newReceiver(t, []string{newSecret}, nil)
	d := newDeliverer(t, rc, callback.Config{Secrets: []string{oldSecret}})
	err := d.Deliver(t.Context(), message(rc.URL))
	if err == nil || !delivery.IsPermanent(err) || !strings.Contains(err.Error(), "401") {
		t.Errorf("Deliver to a receiver with another secret = %v, want a permanent 401", err)
	}
	if _, refused, _ := rc.got(); len(refused) != 1 || !errors.Is(refused[0], webhook.ErrVerification) {
		t.Errorf("the receiver refused %v, want one verification error", refused)
	}
}

// TestStaleClock checks that the signature covers the timestamp: a sender
// whose clock is 10 minutes off is refused.
func TestStaleClock(t *testing.T) {
	secret := newSecret(t)
	rc := newReceiver(t, []string{secret}, nil)
	d, err := callback.New(callback.Config{Secrets: []string{secret}, Clock: clocktest.New(now.Add(-10 * time.Minute)),
		HTTP: httppost.Options{HTTPClient: rc.Client()}})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Deliver(t.Context(), message(rc.URL)); err == nil {
		t.Fatal("Deliver with a stale timestamp succeeded")
	}
	if _, refused, _ := rc.got(); len(refused) != 1 {
		t.Fatalf("refused %v", refused)
	}
}

func TestHTTP(t *testing.T) {
	secret := newSecret(t)
	for _, tc := range []struct {
		name       string
		respond    func(w http.ResponseWriter, r *http.Request, n int) bool
		opts       httppost.Options
		wantErr    string
		permanent  bool
		retryAfter time.Duration
		requests   int
	}{
		{name: "success", respond: func(w http.ResponseWriter, r *http.Request, n int) bool { w.WriteHeader(204); return true }, requests: 1},
		{name: "500 is one request", respond: func(w http.ResponseWriter, r *http.Request, n int) bool {
			if n == 1 {
				w.WriteHeader(500)
			}
			return n > 1
		}, wantErr: "callback: status 500", requests: 1},
		{name: "500 then success, retries asked for", respond: func(w http.ResponseWriter, r *http.Request, n int) bool {
			if n == 1 {
				w.WriteHeader(500)
			}
			return n > 1
		}, opts: httppost.Options{Retries: 1}, requests: 2},
		{name: "429 with Retry-After", respond: func(w http.ResponseWriter, r *http.Request, n int) bool {
			w.Header().Set("Retry-After", "90")
			w.WriteHeader(429)
			return false
		}, wantErr: "callback: status 429", retryAfter: 90 * time.Second, requests: 1},
		{name: "400 permanent", respond: func(w http.ResponseWriter, r *http.Request, n int) bool {
			http.Error(w, "unknown run", 400)
			return false
		}, wantErr: "callback: status 400 Bad Request: unknown run", permanent: true, requests: 1},
		{name: "timeout", respond: func(w http.ResponseWriter, r *http.Request, n int) bool { <-r.Context().Done(); return false },
			opts: httppost.Options{Timeout: 100 * time.Millisecond, Retries: -1}, wantErr: "no response within", requests: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rc := newReceiver(t, []string{secret}, tc.respond)
			d := newDeliverer(t, rc, callback.Config{Secrets: []string{secret}, HTTP: tc.opts})
			err := d.Deliver(t.Context(), message(rc.URL+"/hook"))
			acc, refused, n := rc.got()
			if n != tc.requests || len(refused) > 0 {
				t.Errorf("receiver got %d requests (refused %v), want %d", n, refused, tc.requests)
			}
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Deliver = %v", err)
				}
				if len(acc) != 1 {
					t.Fatalf("accepted %d", len(acc))
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Deliver = %v, want an error with %q", err, tc.wantErr)
			}
			if delivery.IsPermanent(err) != tc.permanent {
				t.Errorf("IsPermanent(%v) = %t", err, !tc.permanent)
			}
			if d, ok := delivery.RetryDelay(err); ok != (tc.retryAfter > 0) || d != tc.retryAfter {
				t.Errorf("RetryDelay = %v, %t; want %v", d, ok, tc.retryAfter)
			}
			if errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Deliver = %v matches a context error though the caller's context did not end", err)
			}
		})
	}
}

// TestSameIDOnRetry checks that the attempts of one delivery carry one
// webhook-id, so that the receiver can deduplicate.
func TestSameIDOnRetry(t *testing.T) {
	secret := newSecret(t)
	var mu sync.Mutex
	var ids []string
	rc := newReceiver(t, []string{secret}, func(w http.ResponseWriter, r *http.Request, n int) bool {
		mu.Lock()
		ids = append(ids, r.Header.Get("Webhook-Id"))
		mu.Unlock()
		if n == 1 {
			w.WriteHeader(503)
		}
		return n > 1
	})
	d := newDeliverer(t, rc, callback.Config{Secrets: []string{secret}, HTTP: httppost.Options{Retries: -1}})
	m := message(rc.URL)
	if err := d.Deliver(t.Context(), m); err == nil {
		t.Fatal("first attempt succeeded against a 503")
	}
	if err := d.Deliver(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	if len(ids) != 2 || ids[0] != m.IdempotencyKey || ids[1] != ids[0] {
		t.Errorf("webhook-ids %q, want twice %q", ids, m.IdempotencyKey)
	}
}

func TestConfig(t *testing.T) {
	good := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	for _, tc := range []struct {
		cfg  callback.Config
		want string
	}{
		{callback.Config{}, "Config.Secrets: at least one secret is required"},
		{callback.Config{Secrets: []string{good, "whsec_short"}}, "Config.Secrets[1]: must be"},
		{callback.Config{Secrets: []string{"not base64!"}}, "Config.Secrets[0]: must be"},
		{callback.Config{Secrets: []string{good}, URL: "ftp://x/y"}, "Config.URL must be an absolute http or https URL"},
	} {
		_, err := callback.New(tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v) = %v, want %q", tc.cfg, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "MfKQ9r8") {
			t.Errorf("New's error %q quotes a secret", err)
		}
	}
	if _, err := callback.New(callback.Config{Secrets: []string{"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}); err != nil {
		t.Errorf("a secret without its prefix: %v", err)
	}
	d, err := callback.New(callback.Config{Secrets: []string{good}})
	if err != nil {
		t.Fatal(err)
	}
	err = d.Deliver(t.Context(), &delivery.Message{RunID: "r1", Target: delivery.Target{Channel: "callback"}})
	if err == nil || !delivery.IsPermanent(err) {
		t.Errorf("Deliver with no URL anywhere = %v, want a permanent error", err)
	}
}

func TestConformance(t *testing.T) {
	secret := newSecret(t)
	rc := newReceiver(t, []string{secret}, func(w http.ResponseWriter, r *http.Request, n int) bool {
		switch r.URL.Path {
		case "/slow":
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
			return false
		case "/gone":
			w.WriteHeader(410)
			return false
		case "/busy":
			w.Header().Set("Retry-After", "30")
			w.WriteHeader(429)
			return false
		case "/down":
			w.WriteHeader(502)
			return false
		}
		return true
	})
	deliverytest.Run(t, func(t *testing.T) delivery.Deliverer {
		return newDeliverer(t, rc, callback.Config{Secrets: []string{secret}, HTTP: httppost.Options{MaxWait: 10 * time.Millisecond}})
	}, deliverytest.Cases{
		Channel: "callback",
		To:      rc.URL + "/ok",
		Slow:    rc.URL + "/slow",
		Failures: []deliverytest.Failure{
			{Name: "gone", To: rc.URL + "/gone", Permanent: true},
			{Name: "busy", To: rc.URL + "/busy", RetryAfter: 30 * time.Second},
			{Name: "down", To: rc.URL + "/down"},
			{Name: "not_a_url", To: "mailto:ops@example.test", Permanent: true},
		},
		Delivered: func(t *testing.T, m *delivery.Message) {
			acc, _, _ := rc.got()
			for _, a := range acc {
				if a.payload.Data.IdempotencyKey == m.IdempotencyKey && a.payload.Data.RunID == m.RunID {
					return
				}
			}
			t.Errorf("the receiver has no verified callback for %s", m.IdempotencyKey)
		},
	})
}
