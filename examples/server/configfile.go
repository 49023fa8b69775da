package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/heraldhq/herald/webhook"
)

// fileConfig is the server's config file (-config FILE): YAML, with
// ${VAR} references expanded from the environment before parsing. Unknown
// keys are refused.
type fileConfig struct {
	// Webhooks are the webhook sources, served at POST /v1/webhooks/{source}.
	Webhooks []webhookConfig `yaml:"webhooks"`
	// Delivery configures the delivery channels.
	Delivery deliveryConfig `yaml:"delivery"`
	// Schedules are the static schedules, merged with the users' own.
	Schedules []scheduleConfig `yaml:"schedules"`
}

// webhookConfig is one webhook source.
type webhookConfig struct {
	// Source names it: ^[a-z0-9][a-z0-9-]{0,62}$.
	Source string `yaml:"source"`
	// Scheme is standard, stripe, github, slack, teams, botframework,
	// hmac, bearer or insecure.
	Scheme string `yaml:"scheme"`
	// Secrets are the scheme's secrets (several during a rotation); tokens
	// for bearer; unused by botframework and insecure.
	Secrets []string `yaml:"secrets"`
	// Agent and Owner are those of the runs it starts.
	Agent string `yaml:"agent"`
	Owner string `yaml:"owner"`
	// MaxBody bounds a body in bytes; 0 means 1 MiB.
	MaxBody int64 `yaml:"max_body"`
	// DeliveryIDHeader names the header with the delivery's id when the
	// scheme has none; else the body's SHA-256 is the id.
	DeliveryIDHeader string `yaml:"delivery_id_header"`
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

// loadConfigFile reads and checks the config file at path.
func loadConfigFile(path string, getenv func(string) string) (*fileConfig, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	expanded := os.Expand(string(raw), getenv)
	dec := yaml.NewDecoder(bytes.NewReader([]byte(expanded)))
	dec.KnownFields(true)
	var fc fileConfig
	if err := dec.Decode(&fc); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	return &fc, nil
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
		switch w.Encoding {
		case "", "hex":
		case "base64":
			enc = webhook.EncodingBase64
		default:
			return nil, fmt.Errorf("encoding %q: must be hex or base64", w.Encoding)
		}
		return webhook.NewHMAC(webhook.HMACConfig{Secrets: w.Secrets, Header: w.Header, Prefix: w.Prefix,
			Encoding: enc, TimestampHeader: w.TimestampHeader})
	case "botframework":
		return webhook.NewBotFramework(webhook.BotFrameworkConfig{AppID: w.AppID, OpenIDMetadataURL: w.OpenIDMetadataURL})
	case "insecure":
		if len(w.Secrets) > 0 {
			return nil, errors.New("scheme insecure takes no secrets")
		}
		return webhook.Insecure(), nil
	case "":
		return nil, errors.New("scheme: required")
	}
	return nil, fmt.Errorf("scheme %q: must be one of standard, stripe, github, slack, teams, botframework, hmac, bearer, insecure",
		strings.TrimSpace(w.Scheme))
}

// sources turns the config's webhooks into handler sources.
func (fc *fileConfig) sources() ([]webhook.Source, error) {
	var out []webhook.Source
	for i, w := range fc.Webhooks {
		v, err := w.verifier()
		if err != nil {
			return nil, fmt.Errorf("webhooks[%d] (%s): %w", i, w.Source, err)
		}
		out = append(out, webhook.Source{Name: w.Source, Verifier: v, Agent: w.Agent, Owner: w.Owner,
			MaxBody: w.MaxBody, DeliveryIDHeader: w.DeliveryIDHeader})
	}
	return out, nil
}
