package slack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/delivery/httppost"
)

// Defaults of Config.
const (
	// APIURLDefault is the base URL of Slack's Web API.
	APIURLDefault = "https://slack.com/api"
)

// What the deliverer posts, as error texts name it.
const (
	whatWebhook     = "slack incoming webhook"
	whatPostMessage = "slack chat.postMessage"
)

// Config configures a Deliverer. Zero values mean the defaults; the zero
// Config is valid and delivers to the incoming-webhook URLs that messages
// carry as Target.To.
type Config struct {
	// Token is the bot token (xoxb-…) sent as a bearer token to
	// chat.postMessage. Optional: without it, only incoming webhooks can
	// be delivered to, and a message to a channel fails for good. It never
	// appears in an error.
	Token string
	// APIURL is the base URL of Slack's Web API, to which
	// "/chat.postMessage" is appended; empty means APIURLDefault. Tests
	// point it at a fake.
	APIURL string
	// WebhookURL is the incoming webhook used when a message's Target.To
	// is empty. Optional. It is a secret and never appears in an error.
	WebhookURL string
	// Channel is the channel ("#ops", "C0123ABC") posted to with
	// chat.postMessage when a message's Target.To is empty and WebhookURL
	// is not set. Optional; it needs Token.
	Channel string
	// HTTP configures the HTTP client: timeouts, retries within a call,
	// the longest Retry-After waited out in a call. Zero values mean
	// httppost's defaults.
	HTTP httppost.Options
}

// Deliverer posts messages to Slack. It is safe for concurrent use.
// Create one with New.
type Deliverer struct {
	token      string
	postURL    string
	webhookURL string
	channel    string
	client     *httppost.Client
}

var _ delivery.Deliverer = (*Deliverer)(nil)

// New returns a Deliverer configured by cfg, or an error that names the
// field of cfg that breaks a rule, and the rule.
func New(cfg Config) (*Deliverer, error) {
	apiURL := cfg.APIURL
	if apiURL == "" {
		apiURL = APIURLDefault
	}
	if !httppost.ValidURL(apiURL) {
		return nil, errors.New("slack: Config.APIURL must be an absolute http or https URL")
	}
	if cfg.WebhookURL != "" && !httppost.ValidURL(cfg.WebhookURL) {
		// The URL is a secret: the error does not quote it.
		return nil, errors.New("slack: Config.WebhookURL must be an absolute http or https URL")
	}
	if cfg.Token != "" && (!strings.HasPrefix(cfg.Token, "xox") || strings.ContainsFunc(cfg.Token, isSpaceOrControl)) {
		return nil, errors.New(`slack: Config.Token must be a Slack token ("xoxb-…"), without spaces or a "Bearer " prefix`)
	}
	if cfg.Channel != "" {
		switch {
		case strings.ContainsFunc(cfg.Channel, isSpaceOrControl):
			return nil, errors.New("slack: Config.Channel must be a channel name or id, without spaces")
		case hasHTTPScheme(cfg.Channel):
			return nil, errors.New("slack: Config.Channel must be a channel name or id; put an incoming-webhook URL in Config.WebhookURL")
		case cfg.Token == "":
			return nil, errors.New("slack: Config.Channel needs Config.Token: chat.postMessage takes a bot token")
		}
	}
	return &Deliverer{
		token:      cfg.Token,
		postURL:    strings.TrimRight(apiURL, "/") + "/chat.postMessage",
		webhookURL: cfg.WebhookURL,
		channel:    cfg.Channel,
		client:     httppost.New(cfg.HTTP),
	}, nil
}

// Deliver posts m to the incoming webhook or the channel that
// m.Target.To names (see the package comment). Errors are classified for
// the scheduler's retries: permanent when Slack refused the message for
// good, with delivery.RetryAfter when Slack asked to wait.
func (d *Deliverer) Deliver(ctx context.Context, m *delivery.Message) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("slack: %w", err)
	}
	to := strings.TrimSpace(m.Target.To)
	switch {
	case hasHTTPScheme(to):
		return d.postWebhook(ctx, to, m)
	case to != "":
		return d.postMessage(ctx, to, m)
	case d.webhookURL != "":
		return d.postWebhook(ctx, d.webhookURL, m)
	case d.channel != "":
		return d.postMessage(ctx, d.channel, m)
	}
	return delivery.Permanent(errors.New("slack: the target has no address, and neither Config.WebhookURL nor Config.Channel is set"))
}

// postWebhook posts m to the incoming webhook at hookURL. A webhook
// answers "ok" with a 200, and refuses with a 4xx and a plain-text code,
// which httppost classifies and quotes.
func (d *Deliverer) postWebhook(ctx context.Context, hookURL string, m *delivery.Message) error {
	body, err := encode(newPayload(m))
	if err != nil {
		return delivery.Permanent(fmt.Errorf("%s: encode the message: %w", whatWebhook, err))
	}
	_, err = d.client.Post(ctx, &httppost.Request{
		What:        whatWebhook,
		URL:         hookURL,
		ContentType: contentType,
		Body:        body,
	})
	return err
}

// postMessage posts m to channel with chat.postMessage and reads Slack's
// verdict from the response body.
func (d *Deliverer) postMessage(ctx context.Context, channel string, m *delivery.Message) error {
	if d.token == "" {
		return delivery.Permanent(fmt.Errorf("%s: a channel target needs a bot token, and Config.Token is not set", whatPostMessage))
	}
	p := newPayload(m)
	p.Channel = channel
	p.UnfurlLinks, p.UnfurlMedia = new(false), new(false)
	p.Metadata = &metadata{
		EventType:    metadataEventType,
		EventPayload: eventPayload{IdempotencyKey: m.IdempotencyKey, RunID: m.RunID},
	}
	body, err := encode(p)
	if err != nil {
		return delivery.Permanent(fmt.Errorf("%s: encode the message: %w", whatPostMessage, err))
	}
	resp, err := d.client.Post(ctx, &httppost.Request{
		What:        whatPostMessage,
		URL:         d.postURL,
		ContentType: contentType,
		Header:      http.Header{"Authorization": {"Bearer " + d.token}},
		Body:        body,
	})
	if err != nil {
		return err
	}
	return apiResult("chat.postMessage", resp)
}

// hasHTTPScheme reports whether s starts with http:// or https://, in any
// case: an address that does is a webhook URL, not a channel.
func hasHTTPScheme(s string) bool {
	l := strings.ToLower(s[:min(len(s), len("https://"))])
	return strings.HasPrefix(l, "http://") || strings.HasPrefix(l, "https://")
}

// isSpaceOrControl reports whether r has no place in a token or a
// channel name.
func isSpaceOrControl(r rune) bool { return r <= ' ' || r == 0x7f }

// CloseIdleConnections closes the connections kept open for reuse; the
// Deliverer stays usable.
func (d *Deliverer) CloseIdleConnections() { d.client.CloseIdleConnections() }
