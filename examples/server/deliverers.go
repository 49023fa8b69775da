package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/go-kit/log"

	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/delivery/callback"
	"github.com/heraldhq/herald/delivery/email"
	"github.com/heraldhq/herald/delivery/httppost"
	"github.com/heraldhq/herald/delivery/logdelivery"
	"github.com/heraldhq/herald/delivery/slack"
	"github.com/heraldhq/herald/delivery/teams"
)

// deliveryConfig is the config file's delivery: section: one entry per
// built-in channel to register. The log channel is always registered.
//
//	delivery:
//	  slack: {token: "${SLACK_BOT_TOKEN}", channel: "#ops"}
//	  teams: {webhook_url: "${TEAMS_WEBHOOK_URL}"}
//	  email: {host: smtp.example.com, username: herald, password: "${SMTP_PASSWORD}", from: herald@example.com}
//	  callback: {secrets: ["${CALLBACK_SECRET}"]}
type deliveryConfig struct {
	// Slack registers the slack channel.
	Slack *slackConfig `yaml:"slack"`
	// Teams registers the teams channel.
	Teams *teamsConfig `yaml:"teams"`
	// Email registers the email channel.
	Email *emailConfig `yaml:"email"`
	// Callback registers the callback channel.
	Callback *callbackConfig `yaml:"callback"`
}

// httpConfig tunes an HTTP channel; zero values mean httppost's defaults.
type httpConfig struct {
	// Timeout bounds one HTTP attempt.
	Timeout time.Duration `yaml:"timeout"`
	// Retries is how many times one delivery retries within itself.
	Retries int `yaml:"retries"`
}

func (h httpConfig) options() httppost.Options {
	return httppost.Options{Timeout: h.Timeout, Retries: h.Retries}
}

// slackConfig configures the slack channel (see slack.Config).
type slackConfig struct {
	Token      string `yaml:"token"`
	WebhookURL string `yaml:"webhook_url"`
	Channel    string `yaml:"channel"`
	APIURL     string `yaml:"api_url"`
	httpConfig `yaml:",inline"`
}

// teamsConfig configures the teams channel (see teams.Config).
type teamsConfig struct {
	WebhookURL string `yaml:"webhook_url"`
	httpConfig `yaml:",inline"`
}

// emailConfig configures the email channel (see email.Config); tls is
// starttls (the default), tls or none.
type emailConfig struct {
	Host     string        `yaml:"host"`
	Port     int           `yaml:"port"`
	Username string        `yaml:"username"`
	Password string        `yaml:"password"`
	From     string        `yaml:"from"`
	TLS      string        `yaml:"tls"`
	Timeout  time.Duration `yaml:"timeout"`
}

// callbackConfig configures the callback channel (see callback.Config).
type callbackConfig struct {
	Secrets    []string `yaml:"secrets"`
	URL        string   `yaml:"url"`
	httpConfig `yaml:",inline"`
}

// router builds the delivery router: log always, and each configured
// channel. The errors name the section; none quotes a secret, since the
// deliverers' own errors do not.
func (dc deliveryConfig) router(logger log.Logger) (*delivery.Router, error) {
	r := delivery.NewRouter()
	r.MustHandle("log", logdelivery.New(log.With(logger, "component", "delivery")))
	add := func(channel string, d delivery.Deliverer, err error) error {
		if err != nil {
			return fmt.Errorf("delivery.%s: %w", channel, err)
		}
		return r.Handle(channel, d)
	}
	var errs []error
	if c := dc.Slack; c != nil {
		d, err := slack.New(slack.Config{Token: c.Token, WebhookURL: c.WebhookURL, Channel: c.Channel, APIURL: c.APIURL, HTTP: c.options()})
		errs = append(errs, add("slack", d, err))
	}
	if c := dc.Teams; c != nil {
		d, err := teams.New(teams.Config{WebhookURL: c.WebhookURL, HTTP: c.options()})
		errs = append(errs, add("teams", d, err))
	}
	if c := dc.Email; c != nil {
		d, err := email.New(email.Config{Host: c.Host, Port: c.Port, Username: c.Username, Password: c.Password,
			From: c.From, TLSMode: email.TLSMode(c.TLS), Timeout: c.Timeout})
		errs = append(errs, add("email", d, err))
	}
	if c := dc.Callback; c != nil {
		d, err := callback.New(callback.Config{Secrets: c.Secrets, URL: c.URL, HTTP: c.options()})
		errs = append(errs, add("callback", d, err))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return r, nil
}
