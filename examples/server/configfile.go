package main

import (
	"fmt"
	"net"
	"os"
	"strings"
	"time"
	"unicode"

	"github.com/heraldhq/herald/examples/server/agents"
	"github.com/heraldhq/herald/scheduler"
)

// fileConfig is the server's config file (-config FILE): YAML, unknown keys
// refused, every ${VAR} in a value replaced by the variable's value ($${
// for a literal ${); herald.example.yaml is a commented example. Every field is
// optional: its zero value means the default given.
//
// The file is plain data: loadConfigFile decodes and checks it, and run
// wires it to the library. Every problem is reported at once, each by the
// path of its key (see configError).
type fileConfig struct {
	// Listen is the address to listen on, host:port (port 0 picks a free
	// port). The -addr flag and HERALD_ADDR win over it; default
	// 127.0.0.1:8080.
	Listen string `yaml:"listen"`
	// Database is the store's DSN: sqlite://FILE, FILE.db or
	// postgres://USER@HOST:PORT/DB. The -db flag and HERALD_DATABASE_URL
	// win over it; default sqlite://herald.db.
	Database string `yaml:"database"`
	// NodeID names this node in the leases of the runs it executes; unique
	// per node. Default: host name, process id and a random suffix.
	NodeID string `yaml:"node_id"`
	// Auth lists who may call the REST API, and how they prove it.
	Auth authConfig `yaml:"auth"`
	// RateLimit bounds the requests of each principal.
	RateLimit rateLimitConfig `yaml:"rate_limit"`
	// Policy bounds what each owner may schedule.
	Policy policyConfig `yaml:"policy"`
	// Workers is how many runs this node executes at once; zero means
	// scheduler.WorkersDefault (100).
	Workers int `yaml:"workers"`
	// Webhooks are the webhook sources, served at POST /v1/webhooks/{source}.
	Webhooks []webhookConfig `yaml:"webhooks"`
	// Delivery configures the delivery channels beside log, which is
	// always there.
	Delivery deliveryConfig `yaml:"delivery"`
	// Schedules are the static schedules, merged with the users' own.
	Schedules []scheduleConfig `yaml:"schedules"`
	// Retention configures the retention agent.
	Retention retentionConfig `yaml:"retention"`
	// Backfill configures the slack_backfill agent.
	Backfill backfillConfig `yaml:"backfill"`
	// Credentials are the keys that seal the workspaces' bot tokens.
	Credentials credentialsConfig `yaml:"credentials"`
	// Log configures the server's log.
	Log logConfig `yaml:"log"`
	// Plugins are the out-of-process agents and deliverers.
	Plugins pluginsConfig `yaml:"plugins"`

	// lines and unset are what loadConfigFile learnt of the file: the
	// line of each path, the unset variables of each value. Problems
	// found later (by the scheduler, at start) are reported with them.
	lines map[string]int
	unset map[string][]string
}

// rateLimitConfig is the rate_limit: section: a token bucket per principal
// (a token's or a JWT's subject); a request over the limit is answered 429.
type rateLimitConfig struct {
	// PerSecond is the sustained rate, in requests per second; zero means
	// no limit.
	PerSecond float64 `yaml:"per_second"`
	// Burst is how many requests may come at once; zero means twice
	// PerSecond, at least 1. Only with PerSecond.
	Burst int `yaml:"burst"`
}

// policyConfig is the policy: section, which guards a shared deployment
// (see scheduler.Policy). Zero fields mean no limit.
type policyConfig struct {
	// MaxSchedulesPerOwner caps the active (not paused) schedules of each
	// owner.
	MaxSchedulesPerOwner int `yaml:"max_schedules_per_owner"`
	// MinInterval is the shortest time allowed between two fires of a
	// schedule ("15m").
	MinInterval time.Duration `yaml:"min_interval"`
	// MaxTimeout caps the timeout of a schedule or run ("1h").
	MaxTimeout time.Duration `yaml:"max_timeout"`
}

// retentionConfig is the retention: section, which configures the
// retention agent (see agents.Retention); a schedule runs it.
type retentionConfig struct {
	// MaxAge is how long the history of a finished run is kept; zero
	// means agents.RetentionMaxAgeDefault (720h, 30 days). At least 1h.
	MaxAge time.Duration `yaml:"max_age"`
}

// retentionMaxAgeMin is the shortest retention.max_age: a shorter one is
// most likely "1m" written for a month.
const retentionMaxAgeMin = time.Hour

// maxNameBytes bounds the names of the config (node, subjects, owners), as
// the store bounds owners.
const maxNameBytes = 200

// loadConfigFile reads, decodes and checks the config file at path,
// replacing each ${VAR} with getenv(VAR). Its error is a *configError
// listing every problem, or a read or YAML syntax error.
func loadConfigFile(path string, getenv func(string) string) (*fileConfig, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	return parseConfigFile(path, raw, getenv)
}

// parseConfigFile is loadConfigFile of the text src, named path.
func parseConfigFile(path string, src []byte, getenv func(string) string) (*fileConfig, error) {
	fc := &fileConfig{}
	p := newProblems(path, nil, nil)
	if err := decodeYAML(src, getenv, fc, p); err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	fc.lines, fc.unset = p.lines, p.unset
	fc.check(p)
	if err := p.err(); err != nil {
		return nil, err
	}
	return fc, nil
}

// problems returns a collector for problems found after loading, with the
// file's lines.
func (fc *fileConfig) problems(file string) *problems {
	return newProblems(file, fc.lines, fc.unset)
}

// check records every problem of fc in p, by path.
func (fc *fileConfig) check(p *problems) {
	if fc.Listen != "" {
		if _, port, err := net.SplitHostPort(fc.Listen); err != nil || port == "" {
			p.add("listen", "must be an address such as 127.0.0.1:8080 or :8080")
		}
	}
	if fc.Database != "" && strings.TrimSpace(fc.Database) != fc.Database {
		p.add("database", "must not start or end with white space")
	}
	if fc.NodeID != "" {
		checkName(p, "node_id", fc.NodeID)
	}
	fc.Auth.check(p, "auth")
	fc.RateLimit.check(p, "rate_limit")
	fc.Policy.check(p, "policy")
	if fc.Workers < 0 {
		p.add("workers", "must not be negative (0 means 100)")
	}
	fc.Delivery.build(p, "delivery")
	checkWebhooks(p, "webhooks", fc.Webhooks, fc.Delivery)
	checkSchedules(p, "schedules", fc.Schedules, fc.Delivery, fc.Policy.scheduler())
	fc.Retention.check(p, "retention")
	fc.Backfill.check(p, "backfill")
	fc.Credentials.check(p, "credentials")
	fc.Log.check(p, "log")
	fc.Plugins.check(p, "plugins")
}

// checkName checks a name that is also an owner or a label in logs: at
// most maxNameBytes, printable, without white space.
func checkName(p *problems, path, name string) {
	switch {
	case len(name) > maxNameBytes:
		p.addf(path, "must be at most %d bytes", maxNameBytes)
	case strings.IndexFunc(name, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }) >= 0:
		p.add(path, "must not hold white space or control characters")
	}
}

func (c rateLimitConfig) check(p *problems, path string) {
	if c.PerSecond < 0 {
		p.add(key(path, "per_second"), "must not be negative (0 means no limit)")
	}
	switch {
	case c.Burst < 0:
		p.add(key(path, "burst"), "must not be negative")
	case c.Burst > 0 && c.PerSecond == 0:
		p.add(key(path, "burst"), "needs per_second")
	}
}

func (c policyConfig) check(p *problems, path string) {
	if c.MaxSchedulesPerOwner < 0 {
		p.add(key(path, "max_schedules_per_owner"), "must not be negative (0 means no limit)")
	}
	if c.MinInterval < 0 {
		p.add(key(path, "min_interval"), "must not be negative (0 means no limit)")
	}
	if c.MaxTimeout < 0 {
		p.add(key(path, "max_timeout"), "must not be negative (0 means no limit)")
	}
}

// scheduler is c as the scheduler's policy.
func (c policyConfig) scheduler() scheduler.Policy {
	return scheduler.Policy{MaxActiveSchedules: c.MaxSchedulesPerOwner, MinInterval: c.MinInterval, MaxTimeout: c.MaxTimeout}
}

func (c retentionConfig) check(p *problems, path string) {
	if c.MaxAge != 0 && c.MaxAge < retentionMaxAgeMin {
		p.addf(key(path, "max_age"), "must be at least %v (0 means %v, 30 days)", retentionMaxAgeMin, agents.RetentionMaxAgeDefault)
	}
}

// secrets lists the values of fc that must never reach a log: tokens,
// passwords, signing secrets, webhook URLs that hold a key.
func (fc *fileConfig) secrets() []string {
	var out []string
	for _, t := range fc.Auth.Tokens {
		out = append(out, t.Token)
	}
	if j := fc.Auth.JWT; j != nil {
		out = append(out, j.Secret)
	}
	for _, w := range fc.Webhooks {
		out = append(out, w.Secrets...)
	}
	out = append(out, fc.Delivery.secrets()...)
	for _, k := range fc.Credentials.Keys {
		out = append(out, k.Key)
	}
	return nonEmpty(out)
}
