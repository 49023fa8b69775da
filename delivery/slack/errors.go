package slack

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/delivery/httppost"
)

// APIError is a Slack Web API call that Slack answered with "ok": false.
// Deliver returns it wrapped in delivery.Permanent unless the code is a
// temporary one; find it with errors.As.
type APIError struct {
	// Method is the Web API method called ("chat.postMessage").
	Method string
	// Code is Slack's error code ("channel_not_found", "ratelimited").
	Code string
}

// Error returns "slack <method>: <code>".
func (e *APIError) Error() string { return "slack " + e.Method + ": " + e.Code }

// apiResult reads a Web API response: nil when "ok" is true, else the
// classified *APIError. A body that is not such an answer is a transient
// error: it is what a proxy or an outage returns, not Slack's verdict.
func apiResult(method string, resp *httppost.Response) error {
	var r struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal(resp.Body, &r); err != nil || !r.OK && r.Error == "" {
		return fmt.Errorf("slack %s: malformed response (status %d): %q", method, resp.StatusCode, httppost.Excerpt(resp.Body))
	}
	if r.OK {
		return nil
	}
	err := &APIError{Method: method, Code: httppost.Excerpt([]byte(r.Error))}
	if !temporary(r.Error) {
		return delivery.Permanent(err)
	}
	if d, ok := httppost.RetryAfter(resp.Header, time.Now()); ok && (r.Error == "ratelimited" || r.Error == "rate_limited") {
		return delivery.RetryAfter(err, d)
	}
	return err
}

// temporary reports whether a Web API error code says that trying again
// later may succeed. Every other code (channel_not_found, not_in_channel,
// is_archived, invalid_auth, not_authed, token_revoked, account_inactive,
// missing_scope, msg_too_long, no_text, invalid_blocks…) is permanent.
func temporary(code string) bool {
	switch code {
	case "ratelimited", "rate_limited", "internal_error", "fatal_error",
		"service_unavailable", "request_timeout", "team_added_to_org":
		return true
	}
	return false
}
