package main

import (
	"fmt"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/heraldhq/herald/backfill"
	"github.com/heraldhq/herald/backfill/slack"
	"github.com/heraldhq/herald/keyring"
	"github.com/heraldhq/herald/store"
)

// backfillConfig is the backfill: section: the slack_backfill agent, which
// collects the history of the workspaces registered at PUT
// /v1/workspaces/{id}.
//
//	backfill:
//	  slack: {non_marketplace: true}
//	  min_length: 3
type backfillConfig struct {
	// Slack configures the Slack Web API client.
	Slack slackSourceConfig `yaml:"slack"`
	// MinLength drops messages shorter than this many characters; zero
	// keeps every length.
	MinLength int `yaml:"min_length"`
	// KeepBots keeps bot messages, which are dropped by default.
	KeepBots bool `yaml:"keep_bots"`
	// SkipSubtypes are the message subtypes dropped; absent means joins,
	// leaves, topic, purpose and name changes, and pins; [] keeps all.
	SkipSubtypes []string `yaml:"skip_subtypes"`
	// PageSize is the page size asked of Slack (at most 999; 15 with
	// non_marketplace); zero means 200.
	PageSize int `yaml:"page_size"`
}

// slackSourceConfig configures the Slack Web API client of the backfill.
type slackSourceConfig struct {
	// BaseURL is Slack's Web API; default https://slack.com/api/.
	BaseURL string `yaml:"base_url"`
	// NonMarketplace applies Slack's limits for apps outside the Slack
	// Marketplace: conversations.history and conversations.replies at 1
	// request a minute, 15 messages a page.
	NonMarketplace bool `yaml:"non_marketplace"`
	// RateLimits are requests per minute by method
	// ("conversations.history": 50), over Slack's tiers.
	RateLimits map[string]float64 `yaml:"rate_limits"`
}

// credentialsConfig is the credentials: section: the keys that seal the
// workspaces' bot tokens in the store (AES-256-GCM).
//
//	credentials:
//	  keys:
//	    - {id: k2, key: "${HERALD_KEY_K2}"}   # the first seals
//	    - {id: k1, key: "${HERALD_KEY_K1}"}   # older ones still open
type credentialsConfig struct {
	// Keys are the keys, the first the one that seals; each older one
	// still opens what it sealed. None: on SQLite, a key is made on first
	// start in a file beside the database (mode 0600); on PostgreSQL,
	// where every node must share the keys, they are required.
	Keys []credentialKeyConfig `yaml:"keys"`
}

// credentialKeyConfig is one key.
type credentialKeyConfig struct {
	// ID names the key in what it seals: 1 to 32 of A-Z a-z 0-9 . _ -.
	ID string `yaml:"id"`
	// Key is 32 random bytes in base64 (openssl rand -base64 32).
	Key string `yaml:"key"`
}

// slackMethods are the methods rate_limits may name.
var slackMethods = []string{slack.MethodConversationsList, slack.MethodConversationsHistory,
	slack.MethodConversationsReplies, slack.MethodUsersInfo, slack.MethodUsersList}

var keyIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,32}$`)

func (c backfillConfig) check(p *problems, path string) {
	if c.MinLength < 0 {
		p.add(key(path, "min_length"), "must not be negative")
	}
	if c.PageSize < 0 || c.PageSize > slack.PageSizeMax {
		p.addf(key(path, "page_size"), "must be between 0 and %d", slack.PageSizeMax)
	}
	if u := c.Slack.BaseURL; u != "" && !secureURL(u) {
		p.add(key(key(path, "slack"), "base_url"), "must be an https URL (http only for a loopback host)")
	}
	for _, m := range slices.Sorted(maps.Keys(c.Slack.RateLimits)) { // one order of the problems, whatever the map's
		rpm := c.Slack.RateLimits[m]
		mp := key(key(key(path, "slack"), "rate_limits"), m)
		switch {
		case !contains(slackMethods, m):
			p.addf(mp, "is not a method the backfill calls: %s", strings.Join(slackMethods, ", "))
		case rpm <= 0:
			p.add(mp, "must be a positive number of requests per minute")
		}
	}
}

func (c credentialsConfig) check(p *problems, path string) {
	seen := map[string]bool{}
	for i, k := range c.Keys {
		kp := index(key(path, "keys"), i)
		switch {
		case !keyIDPattern.MatchString(k.ID):
			p.add(key(kp, "id"), "must be 1 to 32 of A-Z a-z 0-9 . _ -")
		case seen[k.ID]:
			p.add(key(kp, "id"), "is used twice")
		}
		seen[k.ID] = true
		if _, err := keyring.ParseKey("k", k.Key); err != nil {
			p.add(key(kp, "key"), "must be 32 random bytes in base64 (openssl rand -base64 32)")
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// keyFileName is the generated key's file, beside the SQLite database.
const keyFileName = "herald.key"

// keyring returns the keyring of the configured keys; with none, on
// SQLite, the key kept in a file beside the database (made on first
// start, and logged); with none on PostgreSQL, nil: every node must seal
// and open tokens with the same keys, so none is made, and the backfill
// is off (logged).
func (c credentialsConfig) keyring(database, dialect string, logger log.Logger) (*keyring.Keyring, error) {
	var keys []keyring.Key
	for i, k := range c.Keys {
		key, err := keyring.ParseKey(k.ID, k.Key)
		if err != nil {
			return nil, fmt.Errorf("credentials.keys[%d]: %w", i, err)
		}
		keys = append(keys, key)
	}
	if len(keys) == 0 {
		if dialect != "sqlite" {
			level.Info(logger).Log("msg", "the Slack backfill is off: on PostgreSQL it needs credentials.keys, the keys every node seals workspace tokens with")
			return nil, nil
		}
		file := filepath.Join(filepath.Dir(dsnSummary(database)), keyFileName)
		key, created, err := keyring.LoadOrCreateKeyFile(file)
		if err != nil {
			return nil, fmt.Errorf("credentials: %w", err)
		}
		if created {
			level.Info(logger).Log("msg", "made a key to seal workspace tokens; keep the file with the database, or move the key to credentials.keys",
				"file", file, "key_id", key.ID)
		}
		keys = append(keys, key)
	}
	return keyring.New(keys...)
}

// agent builds the slack_backfill agent and the vault of its workspaces;
// nil and nil without a keyring (the backfill is off).
func (c backfillConfig) agent(st store.Store, kr *keyring.Keyring, logger log.Logger) (*backfill.Agent, *backfill.Vault, error) {
	if kr == nil {
		return nil, nil, nil
	}
	open := func(w *store.Workspace, token keyring.Secret) (backfill.Source, error) {
		return slack.New(slack.Config{Token: token.Reveal(), BaseURL: c.Slack.BaseURL, NonMarketplace: c.Slack.NonMarketplace,
			RateLimits: c.Slack.RateLimits, Logger: log.With(logger, "component", "slack", "workspace", w.ID)})
	}
	vault, err := backfill.NewVault(st, kr, open)
	if err != nil {
		return nil, nil, err
	}
	a, err := backfill.NewAgent(backfill.Config{Workspaces: vault, Cursors: st, Sink: backfill.StoreSink(st),
		Filter:   backfill.Filter{Subtypes: c.SkipSubtypes, KeepBots: c.KeepBots, MinLength: c.MinLength},
		PageSize: c.PageSize, Logger: log.With(logger, "component", "backfill")})
	if err != nil {
		return nil, nil, err
	}
	return a, vault, nil
}
