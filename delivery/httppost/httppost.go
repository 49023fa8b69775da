// Package httppost is the HTTP client of Herald's built-in deliverers
// (callback, slack, teams), and the one to build an HTTP deliverer of your
// own on: it POSTs a body with github.com/hashicorp/go-retryablehttp and
// turns what came back into an error classified the way the delivery
// contract wants.
//
// What a Client promises:
//   - a Post is one HTTP request, unless Options.Retries asks for more
//     (see "Who retries" below);
//   - every attempt has a timeout, and the caller's context ends the whole
//     call at once, with an error that matches ctx.Err();
//   - 408, 425, 429 and 5xx are transient, other 4xx and 3xx (redirects are
//     never followed) are delivery.Permanent; a 429 or 503 that says how
//     long to wait (Retry-After) comes back wrapped in delivery.RetryAfter;
//   - error texts name what was posted and the status, with a short,
//     one-line excerpt of the response body; never the URL, which for
//     Slack and Teams webhooks is itself a secret;
//   - the trace context that ctx carries (delivery.WithTraceContext, set
//     by the scheduler when it traces deliveries) is sent as request
//     headers ("traceparent", "tracestate"), so that the receiver's spans
//     join the run's trace.
//
// # Who retries
//
// The caller of a Deliverer retries, not this package. Under Herald's
// scheduler each call of Deliver is one attempt of a delivery: the
// scheduler records it, honours the receiver's Retry-After (without
// holding a worker while it waits), bounds the attempts
// (scheduler.Config.DeliveryAttempts), and, through the store's delivery
// outbox, survives a restart between two attempts. Retries made inside a
// call would be none of that: unrecorded, multiplied by the scheduler's
// own (2 × 5 requests for one delivery), waited out on a delivery worker,
// lost with the process.
// So a Client makes one request per Post by default. The only resend below
// the scheduler is net/http's own, of a request it never wrote on a
// reused keep-alive connection, which no receiver can see.
//
// Options.Retries is for code that calls a Deliverer without the
// scheduler (a one-off notification from a command-line tool): connection
// errors, 429 and 5xx (but 501) are then tried again within the call, with
// short waits; a Retry-After longer than Options.MaxWait is not waited out
// but returned. Leave it zero for deliverers that the scheduler drives.
package httppost

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hashicorp/go-cleanhttp"
	"github.com/hashicorp/go-retryablehttp"

	"github.com/heraldhq/herald/delivery"
)

// Defaults of Options.
const (
	// TimeoutDefault bounds one HTTP attempt.
	TimeoutDefault = 10 * time.Second
	// RetriesDefault is how many times a call retries within itself:
	// none, the caller of the Deliverer retries (see the package comment).
	RetriesDefault = 0
	// MaxWaitDefault is the longest wait between two tries of one call,
	// with Options.Retries.
	MaxWaitDefault = 5 * time.Second
	// MaxResponse bounds the response body read, in bytes.
	MaxResponse = 1 << 20
	// excerptLen bounds the body excerpt in an error's text.
	excerptLen = 200
	// minWait is the first wait between two tries.
	minWait = 250 * time.Millisecond
)

// Options configure a Client. Zero values mean the defaults.
type Options struct {
	// HTTPClient is copied and used for every attempt; nil means a pooled
	// client of its own. Its CheckRedirect is replaced: redirects are
	// never followed.
	HTTPClient *http.Client
	// Timeout bounds one attempt, from dialling to the end of the
	// response body; zero means TimeoutDefault, unless HTTPClient has a
	// Timeout of its own.
	Timeout time.Duration
	// Retries is how many times a call tries again, within itself, after a
	// connection error, a 429 or a 5xx; zero (RetriesDefault) and negative
	// values mean none: the caller retries. Leave it zero under the
	// scheduler, which retries each delivery itself (see the package
	// comment).
	Retries int
	// MaxWait is the longest wait between two tries of one call, with
	// Retries; zero means MaxWaitDefault. A Retry-After longer than that
	// ends the call.
	MaxWait time.Duration
	// UserAgent is sent with every request; empty means "herald".
	UserAgent string
}

// Client posts bodies. It is safe for concurrent use.
type Client struct {
	rc        *retryablehttp.Client
	maxWait   time.Duration
	userAgent string
}

// New returns a Client with the options o.
func New(o Options) *Client {
	var hc http.Client
	if o.HTTPClient != nil {
		hc = *o.HTTPClient
	} else {
		hc = *cleanhttp.DefaultPooledClient()
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	switch {
	case o.Timeout > 0:
		hc.Timeout = o.Timeout
	case hc.Timeout == 0:
		hc.Timeout = TimeoutDefault
	}
	retries := max(o.Retries, 0)
	c := &Client{maxWait: o.MaxWait, userAgent: o.UserAgent}
	if c.maxWait <= 0 {
		c.maxWait = MaxWaitDefault
	}
	if c.userAgent == "" {
		c.userAgent = "herald"
	}
	c.rc = &retryablehttp.Client{
		HTTPClient:   &hc,
		Logger:       nil, // its messages name the URL
		RetryWaitMin: min(minWait, c.maxWait),
		RetryWaitMax: c.maxWait,
		RetryMax:     retries,
		CheckRetry:   c.checkRetry,
		Backoff:      retryablehttp.DefaultBackoff,
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
	}
	return c
}

// Request is one POST.
type Request struct {
	// What names what is posted, for error texts ("slack incoming
	// webhook"). It must not hold a secret.
	What string
	// URL is where to post. It never appears in an error.
	URL string
	// ContentType is the body's media type; empty means application/json.
	ContentType string
	// Header holds extra headers.
	Header http.Header
	// Body is the request body.
	Body []byte
}

// Response is a 2xx response, its body read (up to MaxResponse bytes).
type Response struct {
	// StatusCode is the HTTP status.
	StatusCode int
	// Header is the response's header.
	Header http.Header
	// Body is the response body.
	Body []byte
}

// Post sends r and returns the 2xx response, or a classified error (see
// the package comment).
func (c *Client) Post(ctx context.Context, r *Request) (*Response, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", r.What, err)
	}
	if !ValidURL(r.URL) {
		// The URL is not quoted: it may hold a secret.
		return nil, delivery.Permanent(fmt.Errorf("%s: the target must be an absolute http or https URL", r.What))
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodPost, r.URL, r.Body)
	if err != nil {
		return nil, delivery.Permanent(fmt.Errorf("%s: build the request: %w", r.What, err))
	}
	// The trace context of the delivery attempt, when the scheduler traces
	// it (delivery.WithTraceContext): the receiver's spans join the run's
	// trace. Headers the caller set win.
	for k, v := range delivery.TraceContext(ctx) {
		req.Header.Set(k, v)
	}
	for k, vs := range r.Header {
		req.Header[k] = vs
	}
	ct := r.ContentType
	if ct == "" {
		ct = "application/json"
	}
	req.Header.Set("Content-Type", ct)
	req.Header.Set("User-Agent", c.userAgent)

	resp, err := c.rc.Do(req)
	if resp == nil {
		return nil, c.transportError(ctx, r.What, err)
	}
	defer resp.Body.Close()
	body, rerr := io.ReadAll(io.LimitReader(resp.Body, MaxResponse))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, StatusError(r.What, resp.StatusCode, resp.Header, body, time.Now())
	}
	if rerr != nil {
		return nil, c.transportError(ctx, r.What, rerr)
	}
	return &Response{StatusCode: resp.StatusCode, Header: resp.Header, Body: body}, nil
}

// CloseIdleConnections closes the connections the client keeps open for
// reuse. The client stays usable.
func (c *Client) CloseIdleConnections() { c.rc.HTTPClient.CloseIdleConnections() }

// ValidURL reports whether s is an absolute http or https URL with a host:
// the only URLs a Client posts to.
func ValidURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// checkRetry retries what retryablehttp's default policy retries, except a
// response whose Retry-After is longer than the client's MaxWait.
func (c *Client) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if resp != nil && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) {
		if d, ok := RetryAfter(resp.Header, time.Now()); ok && d > c.maxWait {
			return false, nil
		}
	}
	return retryablehttp.DefaultRetryPolicy(ctx, resp, err)
}

// transportError turns an error without a response into a delivery error:
// the caller's context error when ctx ended, else a transient error that
// says what happened without the URL.
func (c *Client) transportError(ctx context.Context, what string, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("%s: %w", what, cerr)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("%s: no response within the attempt's timeout", what)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // url.Error's text quotes the URL
	}
	msg := "request failed"
	if err != nil {
		msg = err.Error()
	}
	return fmt.Errorf("%s: %s", what, msg)
}

// StatusError is the delivery error of a non-2xx response: transient for
// 408, 425, 429 and 5xx (with delivery.RetryAfter when a 429 or 503 says
// how long to wait), permanent otherwise. Its text names what, the status
// and an excerpt of body. Deliverers whose receiver answers errors inside a
// 2xx response use it too.
func StatusError(what string, status int, h http.Header, body []byte, now time.Time) error {
	text := fmt.Sprintf("%s: status %d %s", what, status, http.StatusText(status))
	if ex := Excerpt(body); ex != "" {
		text += ": " + ex
	}
	if status >= 300 && status < 400 {
		text += " (redirects are not followed)"
	}
	err := errors.New(text)
	switch {
	case status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable:
		if d, ok := RetryAfter(h, now); ok {
			return delivery.RetryAfter(err, d)
		}
		return err
	case status == http.StatusRequestTimeout || status == http.StatusTooEarly || status >= 500:
		return err
	}
	return delivery.Permanent(err)
}

// RetryAfter parses h's Retry-After, in seconds or as an HTTP date, as a
// delay from now. A date in the past is a delay of zero.
func RetryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		if n > int64(24*time.Hour/time.Second) {
			n = int64(24 * time.Hour / time.Second)
		}
		return time.Duration(n) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}

// Excerpt is the start of body as one line of printable text, for error
// messages: at most 200 bytes, control characters and invalid UTF-8
// replaced by spaces.
func Excerpt(body []byte) string {
	if len(body) > 4*excerptLen {
		body = body[:4*excerptLen]
	}
	s := strings.Map(func(r rune) rune {
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(string(body), " "))
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= excerptLen {
		return s
	}
	cut := excerptLen
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
