package slack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-kit/log/level"
	slackapi "github.com/slack-go/slack"
)

// Retries of a call that failed on the network or with a 5xx.
const (
	serverRetries      = 3
	backoffInitial     = time.Second
	backoffMax         = 30 * time.Second
	minRetryAfter      = time.Second
	maxResponseBodyLen = 64 << 20
)

// captured is what the HTTP client saw of a call's response.
type captured struct {
	status int
	header http.Header
	body   []byte
}

type captureKey struct{}

// captureClient is the HTTP client slack-go is given: it makes the request
// with the configured client and, when the request's context carries a
// *captured, fills it with the response's status, headers and body (and
// hands slack-go the body to decode).
type captureClient struct {
	client *http.Client
}

func (c captureClient) Do(req *http.Request) (*http.Response, error) {
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, err
	}
	cp, _ := req.Context().Value(captureKey{}).(*captured)
	if cp == nil {
		return resp, nil
	}
	cp.status = resp.StatusCode
	cp.header = resp.Header
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBodyLen+1))
	_ = resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("read response: %w", err)
	}
	if len(body) > maxResponseBodyLen {
		return nil, fmt.Errorf("response larger than %d bytes", maxResponseBodyLen)
	}
	cp.body = body
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

// call makes one Web API call with do (a slack-go method given the context
// it must use): it waits for the method's limiter, retries a 429 after its
// Retry-After (up to maxRetries times) and a network error or 5xx after a
// back-off (serverRetries times), and turns ok:false into *Error. It
// returns what the HTTP client captured of the successful response.
func (s *Source) call(ctx context.Context, method string, do func(context.Context) error) (*captured, error) {
	l := s.limiters[method]
	limited, failed := 0, 0
	for {
		if err := s.wait(ctx, l); err != nil {
			return nil, fmt.Errorf("slack: %s: %w", method, err)
		}
		cp := &captured{}
		err := do(context.WithValue(ctx, captureKey{}, cp))
		if err == nil {
			return cp, nil
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("slack: %s: %w", method, ctxErr)
		}
		var apiErr slackapi.SlackErrorResponse
		isAPIErr := errors.As(err, &apiErr)
		switch {
		case cp.status == http.StatusTooManyRequests || (isAPIErr && apiErr.Err == "ratelimited"):
			if limited >= s.maxRetries {
				return nil, &Error{Method: method, Code: "ratelimited"}
			}
			limited++
			d := s.retryAfter(cp.header)
			level.Debug(s.logger).Log("msg", "rate limited by slack", "method", method,
				"retry_after", d, "attempt", limited)
			l.pause(s.clock.Now().Add(d))
		case isAPIErr:
			return nil, &Error{Method: method, Code: apiErr.Err, Needed: apiErr.Needed}
		case cp.status == 0 || cp.status >= http.StatusInternalServerError:
			// No response (a network error), or a server error.
			if failed >= serverRetries {
				return nil, fmt.Errorf("slack: %s: %w", method, err)
			}
			d := min(backoffInitial<<failed, backoffMax)
			failed++
			level.Warn(s.logger).Log("msg", "slack call failed, retrying", "method", method,
				"status", cp.status, "err", err, "backoff", d, "attempt", failed)
			if err := s.clock.Sleep(ctx, d); err != nil {
				return nil, fmt.Errorf("slack: %s: %w", method, err)
			}
		default:
			return nil, fmt.Errorf("slack: %s: %w", method, err)
		}
	}
}

// retryAfter is the wait a 429's headers ask for: Retry-After in seconds
// (or as an HTTP date), RetryAfterDefault when absent or unreadable, at
// least minRetryAfter.
func (s *Source) retryAfter(h http.Header) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return RetryAfterDefault
	}
	if sec, err := strconv.ParseInt(v, 10, 64); err == nil {
		if sec > int64(time.Duration(math.MaxInt64)/time.Second) {
			return RetryAfterDefault
		}
		return max(time.Duration(sec)*time.Second, minRetryAfter)
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(s.clock.Now()), minRetryAfter)
	}
	return RetryAfterDefault
}

// waited reports a wait of d before a call of method.
func (s *Source) waited(method string, d time.Duration, why string) {
	level.Debug(s.logger).Log("msg", "waited for slack rate limit", "method", method, "wait", d, "reason", why)
	if f := s.onWait.Load(); f != nil {
		(*f)(method, d)
	}
}
