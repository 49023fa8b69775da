package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/log/level"
	"go.yaml.in/yaml/v3"

	"github.com/heraldhq/herald/store"
)

// parseProblems parses text as a config file with the environment env and
// returns its problems, each as "line N: path: message".
func parseProblems(t *testing.T, text string, env map[string]string) []string {
	t.Helper()
	_, err := parseConfigFile("herald.yaml", []byte(text), func(k string) string { return env[k] })
	if err == nil {
		return nil
	}
	ce, ok := errors.AsType[*configError](err)
	if !ok {
		t.Fatalf("parseConfigFile = %v, want a *configError", err)
	}
	var out []string
	for _, p := range ce.Problems {
		out = append(out, p.String())
	}
	return out
}

// mustParse parses text as a config file, failing the test on a problem.
func mustParse(t *testing.T, text string, env map[string]string) *fileConfig {
	t.Helper()
	fc, err := parseConfigFile("herald.yaml", []byte(text), func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("parseConfigFile: %v", err)
	}
	return fc
}

// configCase is a config file and the problems it must have, each as
// "line N: path: message", in line order.
type configCase struct {
	name string
	text string
	env  map[string]string
	want []string
}

func runConfigCases(t *testing.T, cases []configCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := parseProblems(t, tc.text, tc.env)
			if !slices.Equal(got, tc.want) {
				t.Errorf("problems:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tc.want, "\n  "))
			}
		})
	}
}

func TestConfigFileStructure(t *testing.T) {
	runConfigCases(t, []configCase{
		{"empty", "", nil, nil},
		{"comments only", "# nothing yet\n", nil, nil},
		{"not a mapping", "- listen\n", nil, []string{"line 1: must be a mapping of keys to values, not a list"}},
		{"unknown key", "listen: :8080\nlisen: :8081\n", nil, []string{"line 2: lisen: unknown key; did you mean listen?"}},
		{"unknown key far from any", "colour: red\n", nil, []string{"line 1: colour: unknown key"}},
		{"unknown nested key", "schedules:\n  - name: a\n    agent: echo\n    cronn: \"@daily\"\n", nil, []string{
			"line 2: schedules[0]: needs one of cron, interval and at",
			"line 4: schedules[0].cronn: unknown key; did you mean cron?",
		}},
		{"a key set twice", "workers: 1\nworkers: 2\n", nil, []string{"line 2: workers: set twice (first on line 1)"}},
		{"a list for a mapping", "policy: [1, 2]\n", nil, []string{"line 1: policy: must be a mapping of keys to values, not a list"}},
		{"a mapping for a list", "schedules: {name: a}\n", nil, []string{"line 1: schedules: must be a list"}},
		{"a list for a string", "database: [a, b]\n", nil, []string{"line 1: database: must be a string"}},
		{"two documents", "workers: 1\n---\nworkers: 2\n", nil, []string{"line 2: holds more than one YAML document (---)"}},
		{"null sections", "auth:\npolicy: ~\nschedules:\n", nil, nil},
	})
}

func TestConfigFileSyntaxError(t *testing.T) {
	_, err := parseConfigFile("herald.yaml", []byte("workers: [1\n"), func(string) string { return "" })
	if err == nil || !strings.Contains(err.Error(), "config file herald.yaml: yaml: line") {
		t.Errorf("parseConfigFile = %v, want yaml's error with its line", err)
	}
}

func TestConfigFileTopKeys(t *testing.T) {
	runConfigCases(t, []configCase{
		{"listen", "listen: localhost\n", nil, []string{"line 1: listen: must be an address such as 127.0.0.1:8080 or :8080"}},
		{"listen ok", "listen: \":0\"\n", nil, nil},
		{"database", "database: \" sqlite://h.db\"\n", nil, []string{"line 1: database: must not start or end with white space"}},
		{"node_id", "node_id: node one\n", nil, []string{"line 1: node_id: must not hold white space or control characters"}},
		{"node_id too long", "node_id: " + strings.Repeat("n", 201) + "\n", nil, []string{"line 1: node_id: must be at most 200 bytes"}},
		{"workers not a number", "workers: abc\n", nil, []string{`line 1: workers: must be a whole number, not "abc"`}},
		{"workers a fraction", "workers: 2.5\n", nil, []string{`line 1: workers: must be a whole number, not "2.5"`}},
		{"workers quoted", "workers: \"8\"\n", nil, []string{`line 1: workers: must be a whole number, not "8"`}},
		{"workers negative", "workers: -1\n", nil, []string{"line 1: workers: must not be negative (0 means 100)"}},
		{"rate_limit", "rate_limit:\n  per_second: fast\n  burst: -1\n", nil, []string{
			`line 2: rate_limit.per_second: must be a number, not "fast"`,
			"line 3: rate_limit.burst: must not be negative",
		}},
		{"rate_limit negative", "rate_limit: {per_second: -1}\n", nil, []string{"line 1: rate_limit.per_second: must not be negative (0 means no limit)"}},
		{"rate_limit burst alone", "rate_limit: {burst: 5}\n", nil, []string{"line 1: rate_limit.burst: needs per_second"}},
		{"rate_limit ok", "rate_limit: {per_second: 0.5, burst: 2}\n", nil, nil},
		{"policy", "policy:\n  max_schedules_per_owner: -1\n  min_interval: 15\n  max_timeout: -1h\n", nil, []string{
			"line 2: policy.max_schedules_per_owner: must not be negative (0 means no limit)",
			`line 3: policy.min_interval: must be a duration such as 15m or 1h30m, not "15"`,
			"line 4: policy.max_timeout: must not be negative (0 means no limit)",
		}},
		{"policy in days", "policy: {min_interval: 1d}\n", nil, []string{
			`line 1: policy.min_interval: must be a duration such as 15m or 1h30m (in hours: 720h for 30 days), not "1d"`,
		}},
		{"policy zero", "policy: {min_interval: 0, max_timeout: 0s}\n", nil, nil},
		{"retention", "retention: {max_age: 1m}\n", nil, []string{"line 1: retention.max_age: must be at least 1h0m0s (0 means 720h0m0s, 30 days)"}},
		{"retention in days", "retention:\n  max_age: 30d\n", nil, []string{
			`line 2: retention.max_age: must be a duration such as 15m or 1h30m (in hours: 720h for 30 days), not "30d"`,
		}},
		{"log", "log:\n  format: text\n  level: trace\n", nil, []string{
			"line 2: log.format: must be logfmt or json",
			"line 3: log.level: must be debug, info, warn or error",
		}},
		{"log ok", "log: {format: json, level: debug}\n", nil, nil},
	})
}

func TestConfigFileAuth(t *testing.T) {
	const token = "0123456789abcdef0123"
	runConfigCases(t, []configCase{
		{"tokens", `auth:
  tokens:
    - {subject: ops, role: admin, token: "` + token + `"}
    - {subject: alice, role: root, token: "fedcba9876543210fedc"}
    - {role: user, token_sha256: "sha256:nothex"}
    - {subject: bob, role: user}
    - {subject: carol, token: short}
    - {subject: dave, role: user, token: "` + token + `"}
    - {subject: erin, role: user, token: "` + token + `x", token_sha256: "sha256:00"}
    - {subject: system, role: user, token: "aaaaaaaaaaaaaaaaaaaa"}
    - {subject: "f g", role: admin, token: "bbbbbbbb bbbbbbbbbbb"}
`, nil, []string{
			"line 4: auth.tokens[1].role: must be admin or user",
			"line 5: auth.tokens[2].subject: required",
			`line 5: auth.tokens[2].token_sha256: must be "sha256:" and 64 hex digits (printf %s "$TOKEN" | sha256sum)`,
			"line 6: auth.tokens[3].token: required: token or token_sha256",
			"line 7: auth.tokens[4].role: required: admin or user",
			"line 7: auth.tokens[4].token: must be at least 16 characters (openssl rand -hex 32 makes one)",
			"line 8: auth.tokens[5].token: same token as auth.tokens[0]",
			"line 9: auth.tokens[6]: token and token_sha256 exclude each other",
			"line 10: auth.tokens[7].subject: system owns the static schedules: a user may not be it",
			"line 11: auth.tokens[8].subject: must not hold white space or control characters",
			"line 11: auth.tokens[8].token: must not hold white space or control characters",
		}},
		{"a hash of a token listed", `auth:
  tokens:
    - {subject: ops, role: admin, token: "` + token + `"}
    - {subject: ops, role: admin, token_sha256: "sha256:0c7d0b8ee2d5ee13a1e0d4d1fa3d5c5b7f8b5c3bcb8f3fd1e8df1cf9c4a4bd5a"}
    - {subject: ops2, role: admin, token_sha256: "sha256:0C7D0B8EE2D5EE13A1E0D4D1FA3D5C5B7F8B5C3BCB8F3FD1E8DF1CF9C4A4BD5A"}
`, nil, []string{
			"line 5: auth.tokens[2].token_sha256: same token as auth.tokens[1]",
		}},
		{"a token from an unset variable", "auth:\n  tokens:\n    - subject: ops\n      role: admin\n      token: \"${HERALD_ADMIN_TOKEN}\"\n", nil, []string{
			"line 5: auth.tokens[0].token: required: token or token_sha256 (${HERALD_ADMIN_TOKEN} not set)",
		}},
		{"jwt without a key", "auth:\n  jwt: {issuer: x, audience: y}\n", nil, []string{"line 2: auth.jwt: needs secret or jwks_url"}},
		{"jwt with both", "auth:\n  jwt:\n    secret: \"${S}\"\n    jwks_url: https://id.example.com/jwks\n    issuer: x\n    audience: y\n", map[string]string{"S": strings.Repeat("s", 32)}, []string{
			"line 4: auth.jwt.jwks_url: excludes secret: a JWT is verified one way",
		}},
		{"jwt short secret", "auth:\n  jwt: {secret: short, issuer: me, audience: herald}\n", nil, []string{
			"line 2: auth.jwt.secret: must be at least 32 bytes (openssl rand -hex 32 makes one)",
		}},
		{"jwt jwks", "auth:\n  jwt:\n    jwks_url: http://id.example.com/jwks\n    subject_claim: email\n    role_claim: email\n    leeway: 1h\n", nil, []string{
			"line 3: auth.jwt.jwks_url: must be an https URL (http only for a loopback host)",
			// A missing key is reported on the line of its mapping.
			"line 3: auth.jwt.issuer: required: the token's iss claim must name it",
			"line 3: auth.jwt.audience: required: the token's aud claim must name it (a key may sign tokens for other applications too)",
			"line 5: auth.jwt.role_claim: must differ from subject_claim",
			"line 6: auth.jwt.leeway: must be between 0 and 5m0s",
		}},
		{"jwt jwks on loopback", "auth:\n  jwt: {jwks_url: \"http://127.0.0.1:9000/jwks\", issuer: me, audience: herald, leeway: 30s}\n", nil, nil},
		{"jwt unknown key", "auth:\n  jwt:\n    secret: " + strings.Repeat("s", 32) + "\n    issuer: me\n    audience: herald\n    audiance: herald\n", nil, []string{
			"line 6: auth.jwt.audiance: unknown key; did you mean audience?",
		}},
	})
}

func TestConfigFileWebhooks(t *testing.T) {
	runConfigCases(t, []configCase{
		{"sources", `webhooks:
  - {source: GitHub, scheme: github, secrets: [s], agent: echo, owner: ops}
  - {source: gh, scheme: github, secrets: [s], agent: echo, owner: ops}
  - {source: gh, scheme: github, secrets: [s], agent: echo, owner: ops}
  - {source: a, scheme: pigeon, agent: nope}
  - {source: b, scheme: github, secrets: [s, ""], agent: echo, owner: ops, max_body: -1, header: X-Sig}
  - {source: c, scheme: insecure, secrets: [s], agent: echo, owner: ops, delivery_id_header: "X Id", keep_headers: [ok, "no:"]}
  - {source: d, scheme: botframework, agent: echo, owner: ops}
  - {source: e, scheme: standard, secrets: ["whsec_!!!"], agent: echo, owner: ops}
  - {source: f, scheme: hmac, secrets: [s], header: "X Sig", agent: echo, owner: ops}
  - {source: g, scheme: github, secrets: [s], agent: retention, owner: ops}
`, nil, []string{
			"line 2: webhooks[0].source: must match ^[a-z0-9][a-z0-9-]{0,62}$",
			"line 4: webhooks[2].source: already used by webhooks[1]",
			"line 5: webhooks[3].agent: must be one of echo, health_check, kpi_report, retention",
			"line 5: webhooks[3].owner: required: the owner of the runs it starts",
			"line 5: webhooks[3].scheme: must be one of standard, stripe, github, slack, teams, botframework, hmac, bearer, insecure",
			"line 6: webhooks[4].max_body: must not be negative (0 means 1 MiB)",
			"line 6: webhooks[4].header: is for scheme hmac only",
			"line 6: webhooks[4].secrets[1]: must not be empty",
			"line 7: webhooks[5].delivery_id_header: must be a header name",
			"line 7: webhooks[5].keep_headers[1]: must be a header name",
			"line 7: webhooks[5].secrets: scheme insecure takes no secrets",
			"line 8: webhooks[6].app_id: required: the bot's Microsoft App ID",
			"line 9: webhooks[7].secrets[0]: a whsec_ secret must be base64",
			`line 10: webhooks[8].header: "X Sig" is not a header name`,
			"line 11: webhooks[9].agent: retention acts on every owner's runs: its owner must be system (or unset)",
		}},
		{"deliver", `delivery:
  email: {host: smtp.example.com, from: h@example.com}
webhooks:
  - source: github
    scheme: github
    secrets: [s]
    agent: echo
    owner: ops
    deliver:
      - {channel: slack}
      - {channel: email, on: sometimes}
      - {channel: log, on: failure}
`, nil, []string{
			"line 10: webhooks[0].deliver[0].channel: must be one of log, email (slack needs a delivery.slack section)",
			"line 11: webhooks[0].deliver[1].to: required: the email addresses to send to, comma-separated",
			"line 11: webhooks[0].deliver[1].on: must be always, success or failure",
		}},
	})
}

func TestConfigFileDelivery(t *testing.T) {
	runConfigCases(t, []configCase{
		{"email", "delivery:\n  email:\n    host: smtp.example.com:25\n    port: 70000\n    from: nobody\n", nil, []string{
			// The email package reports its first problem only.
			`line 3: delivery.email.host: must be a host name or IP address, without a port, not "smtp.example.com:25"`,
		}},
		{"email from", "delivery:\n  email:\n    host: smtp.example.com\n    from: nobody\n", nil, []string{
			`line 4: delivery.email.from: must be an email address, not "nobody"`,
		}},
		{"email tls", "delivery:\n  email: {host: smtp.example.com, from: h@example.com, tls: ssl}\n", nil, []string{
			`line 2: delivery.email.tls: must be "starttls", "tls" or "none", not "ssl"`,
		}},
		{"email password without username", "delivery:\n  email: {host: smtp.example.com, from: h@example.com, password: p}\n", nil, []string{
			"line 2: delivery.email.password: set without a username",
		}},
		{"email port type", "delivery:\n  email: {host: smtp.example.com, from: h@example.com, port: smtp}\n", nil, []string{
			`line 2: delivery.email.port: must be a whole number, not "smtp"`,
		}},
		{"slack token", "delivery:\n  slack:\n    token: \"Bearer xoxb-1\"\n", nil, []string{
			`line 3: delivery.slack.token: must be a Slack token ("xoxb-…"), without spaces or a "Bearer " prefix`,
		}},
		{"slack channel a URL", "delivery:\n  slack: {token: xoxb-1, channel: \"https://hooks.slack.com/x\"}\n", nil, []string{
			"line 2: delivery.slack.channel: must be a channel name or id; put an incoming-webhook URL in webhook_url",
		}},
		{"slack unknown key", "delivery:\n  slack:\n    tokn: xoxb-1\n", nil, []string{
			"line 3: delivery.slack.tokn: unknown key; did you mean token?",
		}},
		{"slack timeout", "delivery:\n  slack:\n    webhook_url: https://hooks.slack.com/x\n    timeout: soon\n", nil, []string{
			`line 4: delivery.slack.timeout: must be a duration such as 15m or 1h30m, not "soon"`,
		}},
		{"teams", "delivery:\n  teams: {webhook_url: not-a-url}\n", nil, []string{
			"line 2: delivery.teams.webhook_url: must be an absolute http or https URL",
		}},
		{"callback", "delivery:\n  callback: {url: https://example.com/cb}\n", nil, []string{
			"line 2: delivery.callback.secrets: at least one secret is required",
		}},
		{"unknown channel", "delivery:\n  pager: {}\n", nil, []string{
			"line 2: delivery.pager: unknown key",
		}},
		{"targets", `delivery:
  slack: {token: xoxb-1}
  teams: {webhook_url: https://example.com/teams}
  callback: {secrets: [whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3]}
schedules:
  - name: a
    agent: echo
    cron: "@daily"
    deliver:
      - {channel: slack}
      - {channel: slack, to: "#ops"}
      - {channel: slack, to: "https://hooks.slack.com/x"}
      - {channel: teams}
      - {channel: teams, to: "ftp://x"}
      - {channel: callback}
      - {channel: email, to: a@example.com}
      - {channel: log, to: anything}
      - {to: x}
`, nil, []string{
			"line 10: schedules[0].deliver[0].to: required: delivery.slack sets no channel or webhook_url",
			"line 14: schedules[0].deliver[4].to: must be an absolute http or https URL",
			"line 15: schedules[0].deliver[5].to: required: delivery.callback sets no url",
			"line 16: schedules[0].deliver[6].channel: must be one of log, slack, teams, callback (email needs a delivery.email section)",
			"line 18: schedules[0].deliver[8].channel: required: one of log, slack, teams, callback",
		}},
		{"slack channel target without token", "delivery:\n  slack: {webhook_url: \"https://hooks.slack.com/x\"}\nschedules:\n  - {name: a, agent: echo, cron: \"@daily\", deliver: [{channel: slack, to: \"#ops\"}]}\n", nil, []string{
			"line 4: schedules[0].deliver[0].to: names a channel, which needs delivery.slack.token",
		}},
		{"email addresses", "delivery:\n  email: {host: smtp.example.com, from: h@example.com}\nschedules:\n  - {name: a, agent: echo, cron: \"@daily\", deliver: [{channel: email, to: \"a@example.com, nobody\"}]}\n", nil, []string{
			"line 4: schedules[0].deliver[0].to: must be a comma-separated list of email addresses",
		}},
	})
}

func TestConfigFileSchedules(t *testing.T) {
	future := time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)
	runConfigCases(t, []configCase{
		{"fields", `schedules:
  - {agent: echo, cron: "@daily"}
  - {name: a, agent: nope, cron: "@daily"}
  - {name: a, agent: echo, cron: "@daily"}
  - {name: b, cron: "@daily", interval: 1h, at: "` + future + `"}
  - {name: c, agent: echo}
  - {name: d, agent: echo, interval: -1h}
  - {name: e, agent: echo, cron: "@daily", timezone: Mars/Olympus, jitter: -1s, timeout: -1s, max_attempts: -1}
  - {name: f, agent: echo, cron: "@daily", overlap: queue, misfire: never}
  - {name: g, agent: retention, owner: ops, cron: "@daily"}
  - {name: h, agent: echo, cron: "@daily", owner: "o p"}
  - {name: i, agent: echo, at: yesterday}
  - {name: j, agent: echo, interval: 1h, payload: {1: one}}
`, nil, []string{
			"line 2: schedules[0].name: required",
			"line 3: schedules[1].agent: must be one of echo, health_check, kpi_report, retention",
			"line 4: schedules[2].name: already used by schedules[1]",
			"line 5: schedules[3].agent: required: one of echo, health_check, kpi_report, retention",
			"line 5: schedules[3].interval: excludes cron: a schedule fires on one of cron, interval and at",
			"line 6: schedules[4]: needs one of cron, interval and at",
			"line 7: schedules[5].interval: must be positive",
			"line 8: schedules[6].timezone: must be an IANA time zone such as Europe/Paris",
			"line 8: schedules[6].jitter: must not be negative",
			"line 8: schedules[6].timeout: must not be negative",
			"line 8: schedules[6].max_attempts: must not be negative (0 means 3)",
			"line 9: schedules[7].overlap: must be one of skip, buffer_one, buffer_all, cancel_other, allow_all",
			"line 9: schedules[7].misfire: must be one of skip, run_once, run_all",
			"line 10: schedules[8].agent: retention acts on every owner's runs: its owner must be system (or unset)",
			"line 11: schedules[9].owner: must not hold white space or control characters",
			`line 12: schedules[10].at: must be a time such as 2026-01-31T09:00:00Z, not "yesterday"`,
			"line 12: schedules[10]: needs one of cron, interval and at",
			"line 13: schedules[11].payload: must be expressible as JSON: keys must be strings",
		}},
		{"the scheduler's checks", `policy: {min_interval: 15m, max_timeout: 1h}
schedules:
  - {name: a, agent: echo, cron: "61 * * * *"}
  - {name: b, agent: echo, cron: "*/5 * * * *"}
  - {name: c, agent: echo, interval: 1h, timeout: 2h}
  - {name: d, agent: echo, at: "2020-01-01T00:00:00Z"}
  - {name: e, agent: echo, cron: "0 9 * * 1-5", timezone: Europe/Paris}
`, nil, []string{
			`line 3: schedules[0].cron: minute field "61": value 61 out of range 0-59`,
			"line 4: schedules[1].cron: fires 5m0s apart at the closest; the minimum interval is 15m0s (policy)",
			"line 5: schedules[2].timeout: must be at most 1h0m0s (policy)",
			"line 6: schedules[3].at: must be in the future",
		}},
		{"the same name for two owners", `schedules:
  - {name: a, agent: echo, cron: "@daily"}
  - {name: a, owner: ops, agent: echo, cron: "@daily"}
  - {name: a, owner: system, agent: echo, cron: "@daily"}
`, nil, []string{
			"line 4: schedules[2].name: already used by schedules[0]",
		}},
	})
}

func TestConfigFileSeveralProblemsAtOnce(t *testing.T) {
	text := `listen: localhost
workers: abc
auth:
  tokens:
    - {subject: alice, role: root, token: "${ALICE_TOKEN}"}
rate_limit: {burst: 5}
policy:
  min_interval: soon
delivery:
  email: {host: smtp.example.com, from: h@example.com}
schedules:
  - name: report
    agent: kpi_report
    cron: "0 1 * * 1"
    deliver: [{channel: slack, to: "#ops"}]
  - name: purge
    agent: retention
    cronn: "@daily"
log: {format: text}
`
	_, err := parseConfigFile("herald.yaml", []byte(text), func(string) string { return "" })
	want := `config file herald.yaml: 10 problems:
  line 1: listen: must be an address such as 127.0.0.1:8080 or :8080
  line 2: workers: must be a whole number, not "abc"
  line 5: auth.tokens[0].role: must be admin or user
  line 5: auth.tokens[0].token: required: token or token_sha256 (${ALICE_TOKEN} not set)
  line 6: rate_limit.burst: needs per_second
  line 8: policy.min_interval: must be a duration such as 15m or 1h30m, not "soon"
  line 15: schedules[0].deliver[0].channel: must be one of log, email (slack needs a delivery.slack section)
  line 16: schedules[1]: needs one of cron, interval and at
  line 18: schedules[1].cronn: unknown key; did you mean cron?
  line 19: log.format: must be logfmt or json`
	if err == nil || err.Error() != want {
		t.Errorf("error:\n%v\nwant:\n%s", err, want)
	}
}

func TestConfigFileEnvironment(t *testing.T) {
	env := map[string]string{
		"WORKERS":   "12",
		"PORT":      "2525",
		"PASSWORD":  `p#ss: "w0rd" {x}`,
		"SECRET":    "s3cret",
		"AGE":       "48h",
		"HOST":      "smtp.example.com",
		"FROM":      "h@example.com",
		"EMPTY_ONE": "",
	}
	fc := mustParse(t, `workers: ${WORKERS}
delivery:
  email: {host: ${HOST}, port: ${PORT}, from: "${FROM}", username: u, password: ${PASSWORD}}
webhooks:
  - {source: a, scheme: github, secrets: ["${SECRET}", "pre-${SECRET}-post"], agent: echo, owner: ops}
retention: {max_age: "${AGE}"}
`, env)
	if fc.Workers != 12 || fc.Delivery.Email.Port != 2525 || fc.Delivery.Email.Password != env["PASSWORD"] ||
		fc.Delivery.Email.Host != "smtp.example.com" || fc.Retention.MaxAge != 48*time.Hour {
		t.Errorf("expanded config: workers %d, port %d, password %q, host %q, max_age %v",
			fc.Workers, fc.Delivery.Email.Port, fc.Delivery.Email.Password, fc.Delivery.Email.Host, fc.Retention.MaxAge)
	}
	if want := []string{"s3cret", "pre-s3cret-post"}; !slices.Equal(fc.Webhooks[0].Secrets, want) {
		t.Errorf("secrets %q, want %q", fc.Webhooks[0].Secrets, want)
	}
}

func TestConfigFileEnvironmentEdges(t *testing.T) {
	runConfigCases(t, []configCase{
		{"escape", "node_id: \"$${NODE}\"\n", nil, nil},
		{"a quoted number from an unset variable is unset", "workers: \"${WORKERS}\"\n", nil, nil},
		{"a quoted number from a variable", "workers: \"${WORKERS}\"\n", map[string]string{"WORKERS": "x"}, []string{
			`line 1: workers: must be a whole number, not "x"`,
		}},
		{"an unset variable named", "webhooks:\n  - {source: a, scheme: github, secrets: [\"${GH}\"], agent: echo, owner: ops}\n", nil, []string{
			"line 2: webhooks[0].secrets[0]: must not be empty (${GH} not set)",
		}},
		{"a value does not become YAML", "node_id: ${ID}\n", map[string]string{"ID": "a\n  workers: -1"}, []string{
			"line 1: node_id: must not hold white space or control characters",
		}},
		{"keys are not expanded", "${KEY}: 1\n", map[string]string{"KEY": "workers"}, []string{"line 1: ${KEY}: unknown key"}},
		{"not a reference", "node_id: \"$HOME${}${1X}$\"\n", nil, nil},
	})
	// $${ is a literal ${.
	fc := mustParse(t, "database: \"sqlite://$${X}.db\"\n", map[string]string{"X": "no"})
	if fc.Database != "sqlite://${X}.db" {
		t.Errorf("database %q, want the literal ${X}", fc.Database)
	}
	fc = mustParse(t, "node_id: \"$HOME${}${1X}$\"\n", map[string]string{"HOME": "no"})
	if fc.NodeID != "$HOME${}${1X}$" {
		t.Errorf("node_id %q, want it as written", fc.NodeID)
	}
}

func TestConfigFileMergeKeys(t *testing.T) {
	fc := mustParse(t, `schedules:
  - &daily {name: a, agent: echo, cron: "@daily", deliver: [{channel: log}]}
  - <<: *daily
    name: b
    cron: "@hourly"
`, nil)
	if len(fc.Schedules) != 2 {
		t.Fatalf("%d schedules, want 2", len(fc.Schedules))
	}
	b := fc.Schedules[1]
	if b.Name != "b" || b.Agent != "echo" || b.Cron != "@hourly" || len(b.Deliver) != 1 {
		t.Errorf("merged schedule %+v", b)
	}
	got := parseProblems(t, "schedules:\n  - &d {name: a, agent: echo, cron: \"@daily\", colour: red}\n  - <<: *d\n    name: b\n", nil)
	want := []string{"line 2: schedules[0].colour: unknown key", "line 2: schedules[1].colour: unknown key"}
	if !slices.Equal(got, want) {
		t.Errorf("problems %q, want %q", got, want)
	}
}

// exampleEnv are dummy values of the variables herald.example.yaml uses.
var exampleEnv = map[string]string{
	"HERALD_ADMIN_TOKEN":     "example-admin-token-0123456789",
	"GITHUB_WEBHOOK_SECRET":  "example-github-secret",
	"SLACK_BOT_TOKEN":        "xoxb-example",
	"SMTP_PASSWORD":          "example-smtp-password",
	"HERALD_CREDENTIALS_KEY": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
}

func TestExampleConfig(t *testing.T) {
	cfg := mustLoadConfig(t, exampleEnv, "-config", "herald.example.yaml")
	fc := cfg.Settings
	var names []string
	for _, s := range fc.Schedules {
		names = append(names, s.Name+":"+s.Agent)
	}
	want := []string{"weekly_kpi_report:kpi_report", "daily_health_check:health_check", "nightly_retention:retention",
		"hourly_heartbeat:echo", "monthly_kpi_report:kpi_report"}
	if !slices.Equal(names, want) {
		t.Errorf("schedules %q, want %q", names, want)
	}
	kpi := fc.Schedules[0]
	if kpi.Cron != "0 1 * * 1" || kpi.Timezone != "UTC" || len(kpi.Deliver) != 2 ||
		kpi.Deliver[0] != (targetConfig{Channel: "email", To: "admin@example.com", On: "failure"}) ||
		kpi.Deliver[1] != (targetConfig{Channel: "slack", To: "#ops"}) {
		t.Errorf("weekly_kpi_report %+v", kpi)
	}
	statics, err := fc.statics()
	if err != nil || len(statics) != 5 {
		t.Fatalf("statics = %d, %v", len(statics), err)
	}
	if cfg.Addr != "127.0.0.1:8080" || cfg.Database != "sqlite://herald.db" || fc.Auth.Tokens[0].Token != exampleEnv["HERALD_ADMIN_TOKEN"] {
		t.Errorf("config %+v", cfg)
	}
	if len(fc.Webhooks) != 1 || len(fc.Webhooks[0].Deliver) != 1 {
		t.Errorf("webhooks %+v, want a github source with a target", fc.Webhooks)
	}
}

// TestExampleConfigIsComplete checks that herald.example.yaml sets every
// key of the config file's top level, and says what each key it sets is
// for: each has a comment on its line, or just above it.
func TestExampleConfigIsComplete(t *testing.T) {
	src, err := os.ReadFile("herald.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		t.Fatal(err)
	}
	root := doc.Content[0]
	var top []string
	for i := 0; i < len(root.Content); i += 2 {
		top = append(top, root.Content[i].Value)
	}
	for _, f := range fieldsOf(reflect.TypeFor[fileConfig]()) {
		if !slices.Contains(top, f.key) {
			t.Errorf("the example sets no %s", f.key)
		}
	}
	lines := bytes.Split(src, []byte("\n"))
	commented := func(line int) bool { // 1-based
		l := lines[line-1]
		if bytes.Contains(l, []byte(" #")) {
			return true
		}
		return line > 1 && bytes.HasPrefix(bytes.TrimSpace(lines[line-2]), []byte("#"))
	}
	var walk func(path string, n *yaml.Node)
	walk = func(path string, n *yaml.Node) {
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i < len(n.Content); i += 2 {
				k := n.Content[i]
				p := key(path, k.Value)
				// A key of a flow mapping shares the comment of its line.
				if !commented(k.Line) {
					t.Errorf("line %d: %s has no comment", k.Line, p)
				}
				walk(p, n.Content[i+1])
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				walk(index(path, i), c)
			}
		}
	}
	walk("", root)
}

func TestConfigSecrets(t *testing.T) {
	fc := mustParse(t, `auth:
  tokens:
    - {subject: ops, role: admin, token: "${ADMIN}"}
    - {subject: bob, role: user, token_sha256: "sha256:0c7d0b8ee2d5ee13a1e0d4d1fa3d5c5b7f8b5c3bcb8f3fd1e8df1cf9c4a4bd5a"}
  jwt: {secret: "${JWT}", issuer: me, audience: herald}
webhooks:
  - {source: a, scheme: github, secrets: ["${GH}"], agent: echo, owner: ops}
delivery:
  slack: {token: "${SLACK}", webhook_url: "https://hooks.slack.com/services/T/B/${HOOK}"}
  teams: {webhook_url: "https://example.com/teams/${TEAMS}"}
  email: {host: smtp.example.com, from: h@example.com, username: u, password: "${SMTP}"}
  callback: {secrets: ["${CB}"]}
`, map[string]string{
		"ADMIN": "admin-token-0123456789", "JWT": "jwt-secret-0123456789-0123456789-01", "GH": "gh-secret",
		"SLACK": "xoxb-slack-token", "HOOK": "hook-key", "TEAMS": "teams-key", "SMTP": "smtp-password",
		"CB": "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3",
	})
	cfg := config{Database: "postgres://herald:pg-password@db/herald", Settings: *fc}
	secrets := cfg.secrets()
	for _, s := range []string{"admin-token-0123456789", "jwt-secret-0123456789-0123456789-01", "gh-secret", "xoxb-slack-token",
		"https://hooks.slack.com/services/T/B/hook-key", "https://example.com/teams/teams-key", "smtp-password",
		"whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3", "pg-password"} {
		if !slices.Contains(secrets, s) {
			t.Errorf("secrets lack %q", s)
		}
	}
	var b bytes.Buffer
	newLogger(&b, logConfig{}, secrets...).Log("msg", "admin-token-0123456789 and smtp-password", "err",
		errors.New("dial https://example.com/teams/teams-key: refused"))
	for _, s := range []string{"admin-token", "smtp-password", "teams-key"} {
		if strings.Contains(b.String(), s) {
			t.Errorf("the log shows %s: %s", s, b.String())
		}
	}
}

func TestNewLogger(t *testing.T) {
	var b bytes.Buffer
	l := newLogger(&b, logConfig{Format: "json", Level: "warn"})
	level.Info(l).Log("msg", "dropped")
	level.Warn(l).Log("msg", "kept")
	var line map[string]any
	if err := json.Unmarshal(b.Bytes(), &line); err != nil {
		t.Fatalf("a JSON log line: %v: %s", err, b.String())
	}
	if line["msg"] != "kept" || line["ts"] == nil || line["caller"] == nil {
		t.Errorf("logged %s, want the warning only, with ts and caller", b.String())
	}

	b.Reset()
	l = newLogger(&b, logConfig{Level: "debug"})
	level.Debug(l).Log("msg", "shown")
	if !strings.Contains(b.String(), "level=debug") || !strings.Contains(b.String(), "msg=shown") {
		t.Errorf("logged %q, want a logfmt debug line", b.String())
	}
}

func TestScheduleKey(t *testing.T) {
	cron := scheduleConfig{Cron: "@daily"}
	every := scheduleConfig{Interval: time.Hour}
	for _, tc := range []struct {
		field string
		c     scheduleConfig
		want  string
	}{
		{"trigger.cron", cron, "cron"},
		{"trigger.timezone", cron, "timezone"},
		{"trigger.jitter", every, "jitter"},
		{"trigger", cron, "cron"},
		{"trigger", every, "interval"},
		{"trigger.kind", scheduleConfig{}, ""},
		{"trigger.end_at", cron, ""},
		{"misfire_cap", cron, ""},
		{"targets[2].channel", cron, "deliver[2].channel"},
		{"agent", cron, "agent"},
		{"timeout", cron, "timeout"},
	} {
		if got := scheduleKey(tc.field, tc.c); got != tc.want {
			t.Errorf("scheduleKey(%q) = %q, want %q", tc.field, got, tc.want)
		}
	}
}

// TestSchedulerError checks that run reports the scheduler's refusal of a
// static schedule by the schedule's key and line, like loading does.
func TestSchedulerError(t *testing.T) {
	fc := mustParse(t, "schedules:\n  - {name: a, agent: echo, cron: \"@daily\"}\n  - name: b\n    agent: echo\n    cron: \"@hourly\"\n", nil)
	err := schedulerError(fmt.Errorf("scheduler: invalid config: %w", store.Invalid("Static[1].trigger.cron", "is wrong")), fc, "h.yaml")
	if want := "config file h.yaml: line 5: schedules[1].cron: is wrong"; err == nil || err.Error() != want {
		t.Errorf("schedulerError = %v, want %q", err, want)
	}
	other := store.Invalid("Workers", "must not be negative")
	if err := schedulerError(other, fc, "h.yaml"); err != other {
		t.Errorf("schedulerError of another field = %v, want it unchanged", err)
	}
}

func TestConfigFileBackfillAndCredentials(t *testing.T) {
	const key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
	runConfigCases(t, []configCase{
		{"backfill ok", "backfill:\n  slack: {non_marketplace: true, base_url: \"http://127.0.0.1:9/api/\", rate_limits: {conversations.history: 1}}\n  min_length: 3\n  keep_bots: true\n  skip_subtypes: []\n", nil, nil},
		{"backfill", "backfill:\n  slack:\n    base_url: http://slack.example.com/api/\n    non_marketplace: yes please\n    rate_limits: {conversations.hist: 5, users.info: 0}\n  min_length: -1\n  page_size: 5000\n", nil, []string{
			"line 3: backfill.slack.base_url: must be an https URL (http only for a loopback host)",
			`line 4: backfill.slack.non_marketplace: must be true or false, not "yes please"`,
			"line 5: backfill.slack.rate_limits.conversations.hist: is not a method the backfill calls: conversations.list, conversations.history, conversations.replies, users.info, users.list",
			"line 5: backfill.slack.rate_limits.users.info: must be a positive number of requests per minute",
			"line 6: backfill.min_length: must not be negative",
			"line 7: backfill.page_size: must be between 0 and 999",
		}},
		{"credentials ok", "credentials:\n  keys:\n    - {id: k2, key: \"${K}\"}\n", map[string]string{"K": key}, nil},
		{"credentials", "credentials:\n  keys:\n    - {id: k1, key: short}\n    - {id: k1, key: \"" + key + "\"}\n    - {id: \"bad id\", key: \"" + key + "\"}\n", nil, []string{
			"line 3: credentials.keys[0].key: must be 32 random bytes in base64 (openssl rand -base64 32)",
			"line 4: credentials.keys[1].id: is used twice",
			"line 5: credentials.keys[2].id: must be 1 to 32 of A-Z a-z 0-9 . _ -",
		}},
	})
}
