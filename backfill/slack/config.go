package slack

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-kit/log"

	"github.com/heraldhq/herald/clock"
)

// The Web API methods a Source calls, as the keys of Config.RateLimits.
const (
	MethodConversationsList    = "conversations.list"
	MethodConversationsHistory = "conversations.history"
	MethodConversationsReplies = "conversations.replies"
	MethodUsersInfo            = "users.info"
	MethodUsersList            = "users.list"
)

// Slack's rate-limit tiers, in requests per minute per method per workspace.
const (
	Tier1 = 1.0
	Tier2 = 20.0
	Tier3 = 50.0
	Tier4 = 100.0
)

// Defaults of Config and of the page sizes a Source asks for.
const (
	// BaseURLDefault is the Web API's base URL.
	BaseURLDefault = "https://slack.com/api/"
	// HTTPTimeoutDefault is the timeout of the HTTP client used when
	// Config.HTTPClient is nil.
	HTTPTimeoutDefault = 30 * time.Second
	// MaxRetriesDefault is how many times a call answered 429 is retried.
	MaxRetriesDefault = 5
	// RetryAfterDefault is the wait after a 429 that has no Retry-After.
	RetryAfterDefault = 60 * time.Second
	// UsersListAfterDefault is the number of distinct users looked up one
	// by one (users.info) before the whole directory is read (users.list).
	UsersListAfterDefault = 20
	// PageSizeDefault is the page size History and Replies ask for when
	// their Limit is zero (Slack recommends 100 to 200).
	PageSizeDefault = 200
	// PageSizeMax caps Limit (Slack: "under 1000").
	PageSizeMax = 999
	// NonMarketplacePageSizeMax caps Limit of History and Replies when
	// Config.NonMarketplace is set (Slack's default and maximum for those
	// apps).
	NonMarketplacePageSizeMax = 15
)

// RateLimitsDefault returns the requests per minute a Source allows itself
// for each method, from Slack's tiers; nonMarketplace lowers
// conversations.history and conversations.replies to 1 per minute. The map
// is a new copy on every call.
func RateLimitsDefault(nonMarketplace bool) map[string]float64 {
	m := map[string]float64{
		MethodConversationsList:    Tier2,
		MethodUsersList:            Tier2,
		MethodConversationsHistory: Tier3,
		MethodConversationsReplies: Tier3,
		MethodUsersInfo:            Tier4,
	}
	if nonMarketplace {
		m[MethodConversationsHistory] = Tier1
		m[MethodConversationsReplies] = Tier1
	}
	return m
}

// Config configures a Source. Its zero values mean the defaults; Token is
// the only required field.
//
// Config prints (fmt's %v, %+v, %#v, %s, and String, GoString) with the
// token replaced by [REDACTED], so it can be logged.
type Config struct {
	// Token is the workspace's bot token (xoxb-…). Required. It is sent to
	// BaseURL only, and appears in no error, log line or printed value.
	Token string
	// BaseURL is the Web API's base URL, ending in a slash; default
	// BaseURLDefault. Tests point it at a fake (slacktest.Server.URL).
	BaseURL string
	// HTTPClient makes the requests; default an http.Client with
	// HTTPTimeoutDefault.
	HTTPClient *http.Client
	// NonMarketplace applies Slack's limits for apps distributed outside
	// the Slack Marketplace (May 2025): conversations.history and
	// conversations.replies at 1 request per minute, at most
	// NonMarketplacePageSizeMax messages a page. Default false: internal
	// and Marketplace apps, Tier 3 and pages up to PageSizeMax.
	NonMarketplace bool
	// RateLimits overrides, per method (the Method constants), the
	// requests per minute of RateLimitsDefault(NonMarketplace). Each value
	// must be positive; math.Inf(1) removes the limit.
	RateLimits map[string]float64
	// Clock tells the time and waits: the rate limiters, Retry-After and
	// the back-off between retries all wait on it. Default clock.System;
	// tests pass a clocktest.Clock, whose Sleep moves its time forward
	// without sleeping.
	Clock clock.Clock
	// Logger receives retries and waits (go-kit key/values); default none.
	Logger log.Logger
	// MaxRetries is how many times a call answered 429 (or ok:false
	// "ratelimited") is retried before its error is returned; default
	// MaxRetriesDefault, negative for none.
	MaxRetries int
	// UsersListAfter is how many distinct users UserName looks up one at a
	// time (users.info, Tier 4) before it reads the whole directory once
	// (users.list, Tier 2, 200 users a page) into the cache; default
	// UsersListAfterDefault, negative never to read the directory. A small
	// backfill of a big workspace then costs a few users.info calls, a
	// broad one a few directory pages instead of thousands of calls.
	UsersListAfter int
}

// redacted stands for a secret in printed values.
const redacted = "[REDACTED]"

// String returns the configuration with the token redacted.
func (c Config) String() string {
	var b strings.Builder
	b.WriteString("slack.Config{Token:")
	b.WriteString(c.redactedToken())
	fmt.Fprintf(&b, " BaseURL:%s NonMarketplace:%t", c.BaseURL, c.NonMarketplace)
	if len(c.RateLimits) > 0 {
		b.WriteString(" RateLimits:map[")
		for i, k := range slices.Sorted(maps.Keys(c.RateLimits)) {
			if i > 0 {
				b.WriteByte(' ')
			}
			fmt.Fprintf(&b, "%s:%g", k, c.RateLimits[k])
		}
		b.WriteByte(']')
	}
	fmt.Fprintf(&b, " MaxRetries:%d UsersListAfter:%d HTTPClient:%t Clock:%t Logger:%t}",
		c.MaxRetries, c.UsersListAfter, c.HTTPClient != nil, c.Clock != nil, c.Logger != nil)
	return b.String()
}

// GoString returns the configuration, token redacted, for %#v.
func (c Config) GoString() string { return c.String() }

// Format prints the configuration with the token redacted, whatever the
// verb or flags.
func (c Config) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, c.String()) }

func (c Config) redactedToken() string {
	if c.Token == "" {
		return `""`
	}
	return redacted
}

// config is a validated Config with its defaults applied.
type config struct {
	token          string
	baseURL        string
	httpClient     *http.Client
	nonMarketplace bool
	rateLimits     map[string]float64
	clock          clock.Clock
	logger         log.Logger
	maxRetries     int
	usersListAfter int
}

// validate checks c and applies its defaults. Its errors never hold the
// token.
func (c Config) validate() (*config, error) {
	if c.Token == "" {
		return nil, errors.New("slack: config: Token is required")
	}
	if strings.TrimSpace(c.Token) != c.Token || strings.ContainsAny(c.Token, "\r\n\t ") {
		return nil, errors.New("slack: config: Token has white space")
	}
	out := &config{
		token:          c.Token,
		baseURL:        c.BaseURL,
		httpClient:     c.HTTPClient,
		nonMarketplace: c.NonMarketplace,
		rateLimits:     RateLimitsDefault(c.NonMarketplace),
		clock:          c.Clock,
		logger:         c.Logger,
		maxRetries:     c.MaxRetries,
		usersListAfter: c.UsersListAfter,
	}
	if out.baseURL == "" {
		out.baseURL = BaseURLDefault
	}
	u, err := url.Parse(out.baseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("slack: config: BaseURL %q is not an http(s) URL", c.BaseURL)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("slack: config: BaseURL must have no user, query or fragment")
	}
	if !strings.HasSuffix(out.baseURL, "/") {
		out.baseURL += "/"
	}
	if out.httpClient == nil {
		out.httpClient = &http.Client{Timeout: HTTPTimeoutDefault}
	}
	for method, perMinute := range c.RateLimits {
		if _, ok := out.rateLimits[method]; !ok {
			return nil, fmt.Errorf("slack: config: RateLimits: unknown method %q", method)
		}
		if !(perMinute > 0) || math.IsNaN(perMinute) {
			return nil, fmt.Errorf("slack: config: RateLimits[%q] = %g, must be positive", method, perMinute)
		}
		out.rateLimits[method] = perMinute
	}
	out.clock = clock.OrSystem(out.clock)
	if out.logger == nil {
		out.logger = log.NewNopLogger()
	}
	switch {
	case out.maxRetries == 0:
		out.maxRetries = MaxRetriesDefault
	case out.maxRetries < 0:
		out.maxRetries = 0
	}
	if out.usersListAfter == 0 {
		out.usersListAfter = UsersListAfterDefault
	}
	return out, nil
}
