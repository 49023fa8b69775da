package main

import (
	"fmt"
	"net/mail"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-kit/log"

	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/delivery/callback"
	"github.com/heraldhq/herald/delivery/email"
	"github.com/heraldhq/herald/delivery/httppost"
	"github.com/heraldhq/herald/delivery/logdelivery"
	"github.com/heraldhq/herald/delivery/slack"
	"github.com/heraldhq/herald/delivery/teams"
	"github.com/heraldhq/herald/store"
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
	// Timeout bounds one HTTP attempt; zero means 30s.
	Timeout time.Duration `yaml:"timeout"`
	// Retries is how many times one delivery attempt retries within
	// itself, unseen by the scheduler, which already retries each
	// delivery (recorded, with its Retry-After): leave it zero (none).
	Retries int `yaml:"retries"`
}

func (h httpConfig) options() httppost.Options {
	return httppost.Options{Timeout: h.Timeout, Retries: h.Retries}
}

// slackConfig configures the slack channel (see slack.Config): a bot
// token for chat.postMessage, or an incoming-webhook URL.
type slackConfig struct {
	// Token is a bot token ("xoxb-…"), for targets that name a channel.
	Token string `yaml:"token"`
	// WebhookURL is an incoming webhook, for targets with no address.
	WebhookURL string `yaml:"webhook_url"`
	// Channel is the channel of targets with no address (needs Token).
	Channel string `yaml:"channel"`
	// APIURL replaces https://slack.com/api (tests).
	APIURL     string `yaml:"api_url"`
	httpConfig `yaml:",inline"`
}

// teamsConfig configures the teams channel (see teams.Config).
type teamsConfig struct {
	// WebhookURL is the workflow's URL, for targets with no address.
	WebhookURL string `yaml:"webhook_url"`
	httpConfig `yaml:",inline"`
}

// emailConfig configures the email channel (see email.Config).
type emailConfig struct {
	// Host is the SMTP server. Required.
	Host string `yaml:"host"`
	// Port is its port; zero means 587 (465 with tls: tls).
	Port int `yaml:"port"`
	// Username and Password authenticate, over TLS only.
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// From is the sender's address. Required.
	From string `yaml:"from"`
	// TLSMode is starttls (the default), tls or none.
	TLSMode string `yaml:"tls"`
	// Timeout bounds one delivery; zero means 30s.
	Timeout time.Duration `yaml:"timeout"`
	// HelloName is the name given in EHLO; empty means localhost.
	HelloName string `yaml:"hello_name"`
}

// callbackConfig configures the callback channel (see callback.Config):
// signed POSTs to the caller's URL.
type callbackConfig struct {
	// Secrets sign the requests: "whsec_" and base64; the first signs,
	// all are sent during a rotation. At least one.
	Secrets []string `yaml:"secrets"`
	// URL receives targets with no address.
	URL        string `yaml:"url"`
	httpConfig `yaml:",inline"`
}

// channelOrder is the order in which channels are listed.
var channelOrder = []string{"log", "slack", "teams", "email", "callback"}

// channels lists the channels a target may name: log, then each one
// configured.
func (dc deliveryConfig) channels() []string {
	out := []string{"log"}
	for _, c := range []struct {
		name string
		set  bool
	}{{"slack", dc.Slack != nil}, {"teams", dc.Teams != nil}, {"email", dc.Email != nil}, {"callback", dc.Callback != nil}} {
		if c.set {
			out = append(out, c.name)
		}
	}
	return out
}

// build makes the deliverers of the configured channels (but log), by
// channel. A channel whose config the library refuses is left out, and
// the refusal recorded in p, in the file's words (see addLibraryError).
// Deliverers start nothing: building them only checks them.
func (dc deliveryConfig) build(p *problems, path string) map[string]delivery.Deliverer {
	out := map[string]delivery.Deliverer{}
	add := func(channel string, d delivery.Deliverer, err error, cfg any, prefix string) {
		if err != nil {
			addLibraryError(p, key(path, channel), err, prefix, goKeys(cfg))
			return
		}
		out[channel] = d
	}
	if c := dc.Slack; c != nil {
		d, err := slack.New(slack.Config{Token: c.Token, WebhookURL: c.WebhookURL, Channel: c.Channel, APIURL: c.APIURL, HTTP: c.options()})
		add("slack", d, err, c, "slack: ")
	}
	if c := dc.Teams; c != nil {
		d, err := teams.New(teams.Config{WebhookURL: c.WebhookURL, HTTP: c.options()})
		add("teams", d, err, c, "teams: ")
	}
	if c := dc.Email; c != nil {
		d, err := email.New(email.Config{Host: c.Host, Port: c.Port, Username: c.Username, Password: c.Password,
			From: c.From, TLSMode: email.TLSMode(c.TLSMode), Timeout: c.Timeout, HelloName: c.HelloName})
		add("email", d, err, c, "email: config: ")
	}
	if c := dc.Callback; c != nil {
		d, err := callback.New(callback.Config{Secrets: c.Secrets, URL: c.URL, HTTP: c.options()})
		add("callback", d, err, c, "callback: ")
	}
	return out
}

// router builds the delivery router: log always, and each configured
// channel. The config was checked when it was loaded; a refusal here is
// reported as loading reports it.
func (dc deliveryConfig) router(logger log.Logger, p *problems) (*delivery.Router, error) {
	ds := dc.build(p, "delivery")
	if err := p.err(); err != nil {
		return nil, err
	}
	r := delivery.NewRouter()
	r.MustRegister("log", logdelivery.New(log.With(logger, "component", "delivery")))
	for _, ch := range channelOrder[1:] {
		if d, ok := ds[ch]; ok {
			r.MustRegister(ch, d)
		}
	}
	return r, nil
}

// secrets lists the channels' secrets: tokens, passwords, signing keys,
// and webhook URLs, which hold a key.
func (dc deliveryConfig) secrets() []string {
	var out []string
	if c := dc.Slack; c != nil {
		out = append(out, c.Token, c.WebhookURL)
	}
	if c := dc.Teams; c != nil {
		out = append(out, c.WebhookURL)
	}
	if c := dc.Email; c != nil {
		out = append(out, c.Password)
	}
	if c := dc.Callback; c != nil {
		out = append(out, c.Secrets...)
	}
	return out
}

// targetConfig is a delivery target: a channel of the delivery: section
// (or log), an address in it, and which outcomes it receives.
type targetConfig struct {
	// Channel is log or a channel of the delivery: section. Required.
	Channel string `yaml:"channel"`
	// To is the address in the channel: email addresses (comma-separated),
	// a Slack channel or webhook URL, a Teams or callback URL. Empty means
	// the channel's own default, where it has one.
	To string `yaml:"to"`
	// On is always (the default), success or failure.
	On string `yaml:"on"`
}

// target is t as a store target.
func (t targetConfig) target() store.Target {
	return store.Target{Channel: t.Channel, To: t.To, On: delivery.On(t.On)}
}

// checkTargets checks the targets at path against the channels of dc.
func checkTargets(p *problems, path string, ts []targetConfig, dc deliveryConfig) {
	chans := dc.channels()
	for j, t := range ts {
		tp := index(path, j)
		switch {
		case t.Channel == "":
			p.add(key(tp, "channel"), "required: one of "+strings.Join(chans, ", "))
		case !slices.Contains(chans, t.Channel):
			msg := "must be one of " + strings.Join(chans, ", ")
			if slices.Contains(channelOrder, t.Channel) {
				msg += fmt.Sprintf(" (%s needs a delivery.%s section)", t.Channel, t.Channel)
			}
			p.add(key(tp, "channel"), msg)
		default:
			dc.checkTo(p, key(tp, "to"), t)
		}
		switch delivery.On(t.On) {
		case "", delivery.OnAlways, delivery.OnSuccess, delivery.OnFailure:
		default:
			p.add(key(tp, "on"), "must be always, success or failure")
		}
	}
}

// checkTo checks the address of t, of a configured channel, as the
// channel's deliverer would at each delivery.
func (dc deliveryConfig) checkTo(p *problems, path string, t targetConfig) {
	to := strings.TrimSpace(t.To)
	url := strings.HasPrefix(to, "http://") || strings.HasPrefix(to, "https://")
	switch t.Channel {
	case "email":
		if to == "" {
			p.add(path, "required: the email addresses to send to, comma-separated")
		} else if addrs, err := mail.ParseAddressList(to); err != nil || len(addrs) == 0 {
			p.add(path, "must be a comma-separated list of email addresses")
		}
	case "slack":
		switch {
		case url && !httppost.ValidURL(to):
			p.add(path, "must be a Slack channel or an incoming-webhook URL")
		case url:
		case to != "" && dc.Slack.Token == "":
			p.add(path, "names a channel, which needs delivery.slack.token")
		case to == "" && dc.Slack.Channel == "" && dc.Slack.WebhookURL == "":
			p.add(path, "required: delivery.slack sets no channel or webhook_url")
		}
	case "teams":
		if to == "" && dc.Teams.WebhookURL == "" {
			p.add(path, "required: delivery.teams sets no webhook_url")
		} else if to != "" && !httppost.ValidURL(to) {
			p.add(path, "must be an absolute http or https URL")
		}
	case "callback":
		if to == "" && dc.Callback.URL == "" {
			p.add(path, "required: delivery.callback sets no url")
		} else if to != "" && !httppost.ValidURL(to) {
			p.add(path, "must be an absolute http or https URL")
		}
	}
}

// goKeys maps the Go field names of the config struct cfg points to
// (inline fields included) to their keys in the file.
func goKeys(cfg any) map[string]string {
	t := reflect.TypeOf(cfg)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	out := map[string]string{}
	for _, f := range fieldsOf(t) {
		out[t.FieldByIndex(f.index).Name] = f.key
	}
	return out
}

// addLibraryError records err, a library's refusal of the config it was
// built from, in the file's words. The library's errors name its Config's
// Go fields ("slack: Config.Channel needs Config.Token: …", "email: config:
// From \"x\": must be an email address"), which the file's fields mirror:
// prefix is cut, the field named first becomes the key of the problem
// (under path), and every Go name mentioned becomes its key (names maps
// them). Only the problem's text is rewritten: nothing decides on it.
func addLibraryError(p *problems, path string, err error, prefix string, names map[string]string) {
	alts := make([]string, 0, len(names))
	for n := range names {
		alts = append(alts, regexp.QuoteMeta(n))
	}
	slices.SortFunc(alts, func(a, b string) int { return len(b) - len(a) })
	re := regexp.MustCompile(`(?:Config\.)?\b(` + strings.Join(alts, "|") + `)\b(\[\d+\])?`)
	rename := func(s string) string {
		return re.ReplaceAllStringFunc(s, func(m string) string {
			sm := re.FindStringSubmatch(m)
			return names[sm[1]] + sm[2]
		})
	}
	text := strings.TrimPrefix(err.Error(), prefix)
	loc := re.FindStringSubmatchIndex(text)
	if loc == nil || loc[0] != 0 {
		p.add(path, rename(text))
		return
	}
	k := names[text[loc[2]:loc[3]]]
	if loc[4] >= 0 {
		k += text[loc[4]:loc[5]]
	}
	rest := strings.TrimLeft(text[loc[1]:], " ")
	msg := rename(strings.TrimSpace(strings.TrimPrefix(rest, ":")))
	if q, qerr := strconv.QuotedPrefix(rest); qerr == nil {
		// `From "x": rule` reads "rule, not "x""; `Header "x" rule`
		// reads ""x" rule".
		if after, ok := strings.CutPrefix(rest[len(q):], ":"); ok {
			msg = rename(strings.TrimSpace(after)) + ", not " + q
		} else {
			msg = q + " " + rename(strings.TrimSpace(rest[len(q):]))
		}
	}
	p.add(key(path, k), msg)
}
