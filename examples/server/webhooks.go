package main

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/webhook"
)

// webhookConfig is one webhook source of the webhooks: section, served at
// POST /v1/webhooks/{source}.
//
//	webhooks:
//	  - source: github
//	    scheme: github
//	    secrets: ["${GITHUB_WEBHOOK_SECRET}"]
//	    agent: echo
//	    owner: ops
//	    deliver: [{channel: slack, to: "#deploys", on: failure}]
type webhookConfig struct {
	// Source names it: ^[a-z0-9][a-z0-9-]{0,62}$, unique. Required.
	Source string `yaml:"source"`
	// Scheme is how requests are verified: standard, stripe, github,
	// slack, teams, botframework, hmac, bearer or insecure. Required.
	Scheme string `yaml:"scheme"`
	// Secrets are the scheme's secrets (several during a rotation); the
	// tokens for bearer; none for botframework and insecure.
	Secrets []string `yaml:"secrets"`
	// Agent and Owner are those of the runs it starts. Required.
	Agent string `yaml:"agent"`
	Owner string `yaml:"owner"`
	// Deliver are the delivery targets of the runs it starts.
	Deliver []targetConfig `yaml:"deliver"`
	// MaxBody bounds a body in bytes; 0 means 1 MiB.
	MaxBody int64 `yaml:"max_body"`
	// DeliveryIDHeader names the header with the delivery's id when the
	// scheme has none; else the body's SHA-256 is the id.
	DeliveryIDHeader string `yaml:"delivery_id_header"`
	// KeepHeaders are the request headers kept with the event and handed
	// to the agent ("X-GitHub-Event"); empty keeps Content-Type and
	// User-Agent.
	KeepHeaders []string `yaml:"keep_headers"`
	// Header, Prefix, Encoding (hex or base64) and TimestampHeader
	// configure the hmac scheme.
	Header          string `yaml:"header"`
	Prefix          string `yaml:"prefix"`
	Encoding        string `yaml:"encoding"`
	TimestampHeader string `yaml:"timestamp_header"`
	// AppID and OpenIDMetadataURL configure the botframework scheme.
	AppID             string `yaml:"app_id"`
	OpenIDMetadataURL string `yaml:"openid_metadata_url"`
}

// webhookSchemes are the schemes of webhookConfig, in the order errors
// list them.
var webhookSchemes = []string{"standard", "stripe", "github", "slack", "teams", "botframework", "hmac", "bearer", "insecure"}

// sourceName is the rule of a source's name.
var sourceName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// headerName is the rule of a header's name (an RFC 9110 token).
var headerName = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

// checkWebhooks checks the sources at path; dc gives the channels their
// targets may name.
func checkWebhooks(p *problems, path string, ws []webhookConfig, dc deliveryConfig) {
	seen := map[string]string{}
	for i, w := range ws {
		wp := index(path, i)
		switch {
		case w.Source == "":
			p.add(key(wp, "source"), "required")
		case !sourceName.MatchString(w.Source):
			p.add(key(wp, "source"), "must match ^[a-z0-9][a-z0-9-]{0,62}$")
		case seen[w.Source] != "":
			p.addf(key(wp, "source"), "already used by %s", seen[w.Source])
		default:
			seen[w.Source] = wp
		}
		checkAgent(p, key(wp, "agent"), w.Agent, w.Owner)
		if w.Owner == "" {
			p.add(key(wp, "owner"), "required: the owner of the runs it starts")
		} else {
			checkName(p, key(wp, "owner"), w.Owner)
		}
		if w.MaxBody < 0 {
			p.add(key(wp, "max_body"), "must not be negative (0 means 1 MiB)")
		}
		if w.DeliveryIDHeader != "" && !headerName.MatchString(w.DeliveryIDHeader) {
			p.add(key(wp, "delivery_id_header"), "must be a header name")
		}
		for j, h := range w.KeepHeaders {
			if !headerName.MatchString(h) {
				p.add(index(key(wp, "keep_headers"), j), "must be a header name")
			}
		}
		checkTargets(p, key(wp, "deliver"), w.Deliver, dc)
		w.checkScheme(p, wp)
	}
}

// checkScheme checks the scheme and the keys that depend on it, then
// builds the verifier to report what the webhook package refuses.
func (w webhookConfig) checkScheme(p *problems, path string) {
	if !slices.Contains(webhookSchemes, w.Scheme) {
		msg := "must be one of " + strings.Join(webhookSchemes, ", ")
		if w.Scheme == "" {
			msg = "required: one of " + strings.Join(webhookSchemes, ", ")
		}
		p.add(key(path, "scheme"), msg)
		return
	}
	bad := len(p.list)
	only := func(k, v, scheme string) {
		if v != "" && w.Scheme != scheme {
			p.addf(key(path, k), "is for scheme %s only", scheme)
		}
	}
	for _, k := range []struct{ k, v string }{{"header", w.Header}, {"prefix", w.Prefix}, {"encoding", w.Encoding}, {"timestamp_header", w.TimestampHeader}} {
		only(k.k, k.v, "hmac")
	}
	only("app_id", w.AppID, "botframework")
	only("openid_metadata_url", w.OpenIDMetadataURL, "botframework")
	switch w.Scheme {
	case "insecure", "botframework":
		if len(w.Secrets) > 0 {
			p.addf(key(path, "secrets"), "scheme %s takes no secrets", w.Scheme)
		}
	default:
		if len(w.Secrets) == 0 {
			p.addf(key(path, "secrets"), "required: scheme %s verifies requests with a secret", w.Scheme)
		}
		for j, s := range w.Secrets {
			if s == "" {
				p.add(index(key(path, "secrets"), j), "must not be empty")
			}
		}
	}
	if w.Scheme == "hmac" && w.Encoding != "" && w.Encoding != "hex" && w.Encoding != "base64" {
		p.add(key(path, "encoding"), "must be hex or base64")
	}
	if w.Scheme == "botframework" && w.AppID == "" {
		p.add(key(path, "app_id"), "required: the bot's Microsoft App ID")
	}
	if len(p.list) > bad {
		return
	}
	if _, err := w.verifier(); err != nil {
		addVerifierError(p, path, err)
	}
}

// verifierSecret finds "secret 2" or "token 2" at the start of the
// webhook package's errors.
var verifierSecret = regexp.MustCompile(`^(?:secret|token) (\d+):? ?`)

// addVerifierError records an error of a webhook verifier's constructor
// ("webhook: standard: secret 1: a whsec_ secret must be base64") in the
// file's words, as addLibraryError does.
func addVerifierError(p *problems, path string, err error) {
	text := err.Error()
	if _, rest, ok := strings.Cut(text, "webhook: "); ok {
		if _, after, ok := strings.Cut(rest, ": "); ok {
			text = after
		}
	}
	if m := verifierSecret.FindStringSubmatch(text); m != nil {
		n, _ := strconv.Atoi(m[1])
		p.add(index(key(path, "secrets"), n), text[len(m[0]):])
		return
	}
	addLibraryError(p, path, errors.New(text), "", goKeys(webhookConfig{}))
}

// verifier builds the source's verifier from its scheme.
func (w webhookConfig) verifier() (webhook.Verifier, error) {
	switch w.Scheme {
	case "standard":
		return webhook.NewStandard(w.Secrets)
	case "stripe":
		return webhook.NewStripe(w.Secrets)
	case "github":
		return webhook.NewGitHub(w.Secrets)
	case "slack":
		return webhook.NewSlack(w.Secrets)
	case "teams":
		return webhook.NewTeams(w.Secrets)
	case "bearer":
		return webhook.NewBearer(w.Secrets)
	case "hmac":
		enc := webhook.EncodingHex
		if w.Encoding == "base64" {
			enc = webhook.EncodingBase64
		}
		return webhook.NewHMAC(webhook.HMACConfig{Secrets: w.Secrets, Header: w.Header, Prefix: w.Prefix,
			Encoding: enc, TimestampHeader: w.TimestampHeader})
	case "botframework":
		return webhook.NewBotFramework(webhook.BotFrameworkConfig{AppID: w.AppID, OpenIDMetadataURL: w.OpenIDMetadataURL})
	case "insecure":
		return webhook.Insecure(), nil
	}
	return nil, fmt.Errorf("scheme %q: must be one of %s", w.Scheme, strings.Join(webhookSchemes, ", "))
}

// sources turns the config's webhooks into handler sources. The config
// was checked when it was loaded.
func (fc *fileConfig) sources() ([]webhook.Source, error) {
	var out []webhook.Source
	for i, w := range fc.Webhooks {
		v, err := w.verifier()
		if err != nil {
			return nil, fmt.Errorf("webhooks[%d] (%s): %w", i, w.Source, err)
		}
		src := webhook.Source{Name: w.Source, Verifier: v, Agent: w.Agent, Owner: w.Owner,
			MaxBody: w.MaxBody, DeliveryIDHeader: w.DeliveryIDHeader, KeepHeaders: w.KeepHeaders}
		for _, t := range w.Deliver {
			src.Targets = append(src.Targets, delivery.Target{Channel: t.Channel, To: t.To, On: delivery.On(t.On)})
		}
		out = append(out, src)
	}
	return out, nil
}
