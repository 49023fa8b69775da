// Package callback is Herald's signed HTTP callback deliverer: it POSTs a
// run's result as JSON to a URL, signed the Standard Webhooks way (v1,
// HMAC-SHA256), so the receiver can check it with any Standard Webhooks
// library, or with Herald's own webhook.NewStandard.
//
// Import it to register the channel with the scheduler's router:
//
//	secret, _ := callback.NewSecret() // give it to the receiver too
//	cb, err := callback.New(callback.Config{Secrets: []string{secret}})
//	router.MustRegister("callback", cb)
//
// A schedule's target {channel: callback, to: "https://example.com/hooks/herald"}
// then receives, for every finished run, a request like:
//
//	POST /hooks/herald
//	content-type: application/json
//	webhook-id: 0193…-3f2a…            (the message's idempotency key)
//	webhook-timestamp: 1764590400
//	webhook-signature: v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=
//	idempotency-key: 0193…-3f2a…
//
//	{"type":"run.finished","timestamp":"2026-12-01T12:00:00Z","data":{"run_id":…}}
//
// The webhook-id is the message's idempotency key (hashed when it holds
// characters other than letters, digits, '-' and '_'), the same on every
// attempt to deliver the same run to the same target, so a receiver
// deduplicates on it. With several secrets
// (a rotation), each signs and the signatures are sent space-separated, as
// the specification allows. Timeouts, retries within a call, Retry-After
// and the classification of errors are httppost's.
package callback

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/clock"
	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/delivery/httppost"
)

// EventType is the type of the payload of every callback.
const EventType = "run.finished"

// secretPrefix starts a Standard Webhooks secret.
const secretPrefix = "whsec_"

// what names the post in error texts.
const what = "callback"

// Config configures a Deliverer.
type Config struct {
	// Secrets sign each request: Standard Webhooks secrets, "whsec_"
	// followed by the base64 of the key (the prefix may be left out), of
	// 24 to 64 bytes. At least one is required; with several, each signs.
	// They never appear in an error.
	Secrets []string
	// URL is where messages whose Target.To is empty are posted;
	// optional.
	URL string
	// HTTP configures the HTTP client: timeouts, retries within a call,
	// the longest Retry-After waited out in a call. Zero values mean
	// httppost's defaults.
	HTTP httppost.Options
	// Clock tells the time of the signatures; nil means clock.System.
	Clock clock.Clock
}

// Deliverer posts signed callbacks. It is safe for concurrent use. Create
// one with New.
type Deliverer struct {
	keys   [][]byte
	url    string
	client *httppost.Client
	clock  clock.Clock
}

var _ delivery.Deliverer = (*Deliverer)(nil)

// New returns a Deliverer configured by cfg, or an error that names the
// field of cfg that breaks a rule, and the rule.
func New(cfg Config) (*Deliverer, error) {
	if len(cfg.Secrets) == 0 {
		return nil, errors.New("callback: Config.Secrets: at least one secret is required")
	}
	d := &Deliverer{url: cfg.URL, clock: clock.OrSystem(cfg.Clock), client: httppost.New(cfg.HTTP)}
	for i, s := range cfg.Secrets {
		key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, secretPrefix))
		if err != nil || len(key) < 24 || len(key) > 64 {
			return nil, fmt.Errorf(`callback: Config.Secrets[%d]: must be "whsec_" and the base64 of a 24 to 64 byte key`, i)
		}
		d.keys = append(d.keys, key)
	}
	if cfg.URL != "" && !httppost.ValidURL(cfg.URL) {
		return nil, errors.New("callback: Config.URL must be an absolute http or https URL")
	}
	return d, nil
}

// NewSecret returns a new random secret in the form Config.Secrets takes:
// "whsec_" and the base64 of 32 random bytes.
func NewSecret() (string, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return "", fmt.Errorf("callback: new secret: %w", err)
	}
	return secretPrefix + base64.StdEncoding.EncodeToString(key), nil
}

// Payload is the JSON body of a callback.
type Payload struct {
	// Type is EventType.
	Type string `json:"type"`
	// Timestamp is when the callback was signed.
	Timestamp time.Time `json:"timestamp"`
	// Data is the run's result.
	Data Data `json:"data"`
}

// Data is the run's result in a Payload.
type Data struct {
	RunID          string          `json:"run_id"`
	Owner          string          `json:"owner"`
	Agent          string          `json:"agent"`
	Status         string          `json:"status"`
	Subject        string          `json:"subject,omitempty"`
	Text           string          `json:"text,omitempty"`
	Output         json.RawMessage `json:"output,omitempty"`
	Error          string          `json:"error,omitempty"`
	IdempotencyKey string          `json:"idempotency_key,omitempty"`
}

// Deliver posts m, signed, to m.Target.To, or to Config.URL when it is
// empty.
func (d *Deliverer) Deliver(ctx context.Context, m *delivery.Message) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	to := m.Target.To
	if to == "" {
		to = d.url
	}
	if to == "" {
		return delivery.Permanent(fmt.Errorf("%s: the target has no URL, and Config.URL is not set", what))
	}
	id := messageID(m)
	if id == "" {
		return delivery.Permanent(fmt.Errorf("%s: the message needs an idempotency key or a run id, for the webhook-id", what))
	}
	now := d.clock.Now()
	p := Payload{Type: EventType, Timestamp: now.UTC().Truncate(time.Second), Data: Data{
		RunID: m.RunID, Owner: m.Owner, Agent: m.Agent, Status: m.Status, Subject: m.Subject,
		Text: m.Text, Output: m.Output, Error: m.Error, IdempotencyKey: m.IdempotencyKey,
	}}
	if len(p.Data.Output) > 0 && !json.Valid(p.Data.Output) {
		return delivery.Permanent(fmt.Errorf("%s: the message's output is not valid JSON", what))
	}
	body, err := json.Marshal(p)
	if err != nil {
		return delivery.Permanent(fmt.Errorf("%s: encode the payload: %w", what, err))
	}
	ts := strconv.FormatInt(now.Unix(), 10)
	h := http.Header{}
	h.Set("Webhook-Id", id)
	h.Set("Webhook-Timestamp", ts)
	h.Set("Webhook-Signature", d.sign(id, ts, body))
	h.Set("Idempotency-Key", id)
	_, err = d.client.Post(ctx, &httppost.Request{What: what, URL: to, Header: h, Body: body})
	return err
}

// messageID is the webhook-id of m: its idempotency key (else its run id)
// when that is at most 128 letters, digits, '-' and '_'; else "msg_" and
// the key's SHA-256, so the id is the same on every attempt and holds
// nothing a receiver may refuse (a '.' would blur the signed content's
// separators).
func messageID(m *delivery.Message) string {
	key := m.IdempotencyKey
	if key == "" {
		key = m.RunID
	}
	if key == "" {
		return ""
	}
	plain := len(key) <= 128
	for i := 0; plain && i < len(key); i++ {
		c := key[i]
		plain = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_'
	}
	if plain {
		return key
	}
	sum := sha256.Sum256([]byte(key))
	return "msg_" + base64.RawURLEncoding.EncodeToString(sum[:])
}

// sign returns the webhook-signature of a message: "v1,<base64 MAC>" per
// key, space-separated.
func (d *Deliverer) sign(id, ts string, body []byte) string {
	sigs := make([]string, len(d.keys))
	for i, key := range d.keys {
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(id))
		mac.Write([]byte{'.'})
		mac.Write([]byte(ts))
		mac.Write([]byte{'.'})
		mac.Write(body)
		sigs[i] = "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	}
	return strings.Join(sigs, " ")
}

// CloseIdleConnections closes the connections kept open for reuse; the
// Deliverer stays usable.
func (d *Deliverer) CloseIdleConnections() { d.client.CloseIdleConnections() }
