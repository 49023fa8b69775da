package teams

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/delivery/httppost"
)

// what names the post in error texts.
const what = "teams webhook"

// Config configures a Deliverer. Zero values mean the defaults; the zero
// Config is valid and delivers to the webhook URLs that messages carry as
// Target.To.
type Config struct {
	// WebhookURL is the incoming webhook or Workflows URL used when a
	// message's Target.To is empty. Optional. It is a secret and never
	// appears in an error.
	WebhookURL string
	// HTTP configures the HTTP client: timeouts, retries within a call,
	// the longest Retry-After waited out in a call. Zero values mean
	// httppost's defaults.
	HTTP httppost.Options
}

// Deliverer posts messages to Microsoft Teams. It is safe for concurrent
// use. Create one with New.
type Deliverer struct {
	webhookURL string
	client     *httppost.Client
}

var _ delivery.Deliverer = (*Deliverer)(nil)

// New returns a Deliverer configured by cfg, or an error that names the
// field of cfg that breaks a rule, and the rule.
func New(cfg Config) (*Deliverer, error) {
	if cfg.WebhookURL != "" && !httppost.ValidURL(cfg.WebhookURL) {
		// The URL is a secret: the error does not quote it.
		return nil, errors.New("teams: Config.WebhookURL must be an absolute http or https URL")
	}
	return &Deliverer{webhookURL: cfg.WebhookURL, client: httppost.New(cfg.HTTP)}, nil
}

// Deliver posts m as an Adaptive Card to the webhook URL m.Target.To, or
// to Config.WebhookURL when it is empty. Errors are classified for the
// scheduler's retries: permanent when Teams refused the message for good,
// with delivery.RetryAfter when Teams asked to wait.
func (d *Deliverer) Deliver(ctx context.Context, m *delivery.Message) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	to := strings.TrimSpace(m.Target.To)
	if to == "" {
		to = d.webhookURL
	}
	switch {
	case to == "":
		return delivery.Permanent(fmt.Errorf("%s: the target has no webhook URL, and Config.WebhookURL is not set", what))
	case !httppost.ValidURL(to):
		return delivery.Permanent(fmt.Errorf("%s: the target must be an absolute http or https URL", what))
	}
	body, err := encode(newCard(m))
	if err != nil {
		return delivery.Permanent(fmt.Errorf("%s: encode the card: %w", what, err))
	}
	resp, err := d.client.Post(ctx, &httppost.Request{What: what, URL: to, Body: body})
	if err != nil {
		return err
	}
	return bodyError(resp)
}

// CloseIdleConnections closes the connections kept open for reuse; the
// Deliverer stays usable.
func (d *Deliverer) CloseIdleConnections() { d.client.CloseIdleConnections() }
