package webhook

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/heraldhq/herald/clock"
)

// Verifier checks that a webhook request comes from its sender. It is one
// of the contracts third parties implement; constructors in this package
// cover the common schemes.
type Verifier interface {
	// Verify checks the request's headers and raw body (exactly as
	// received). It returns what the scheme tells about the delivery, or
	// an error matching ErrVerification (a *VerificationError saying why).
	// It must not keep header or body after it returns.
	Verify(ctx context.Context, header http.Header, body []byte) (*Verified, error)
}

// VerifierFunc adapts a function to Verifier.
type VerifierFunc func(ctx context.Context, header http.Header, body []byte) (*Verified, error)

// Verify implements Verifier.
func (f VerifierFunc) Verify(ctx context.Context, header http.Header, body []byte) (*Verified, error) {
	return f(ctx, header, body)
}

// Verified is what a verified request tells about its delivery.
type Verified struct {
	// DeliveryID is the scheme's own id of the delivery (webhook-id,
	// X-GitHub-Delivery, Stripe's event id…); empty when the scheme has
	// none, and the handler then finds one as its source is configured.
	DeliveryID string
	// DeliveryIDHeader names the request header DeliveryID was read from
	// (as "X-GitHub-Delivery"), so that a refusal of the id can name it;
	// empty when the id comes from the body or elsewhere.
	DeliveryIDHeader string
	// Reply, when set, is answered to the sender with status 200 and
	// content type ReplyType instead of recording the delivery (Slack's
	// url_verification challenge).
	Reply     []byte
	ReplyType string
}

// ErrVerification matches every verification failure.
var ErrVerification = errors.New("webhook: verification failed")

// Reason says why a request failed verification.
type Reason string

// Verification failure reasons.
const (
	// ReasonMissingHeader: a header the scheme needs is absent.
	ReasonMissingHeader Reason = "missing_header"
	// ReasonMalformedHeader: a header cannot be parsed.
	ReasonMalformedHeader Reason = "malformed_header"
	// ReasonUnknownVersion: the header holds no signature of a version or
	// scheme this verifier accepts.
	ReasonUnknownVersion Reason = "unknown_version"
	// ReasonStaleTimestamp: the signed timestamp is outside the tolerance
	// (too old, or too far in the future).
	ReasonStaleTimestamp Reason = "stale_timestamp"
	// ReasonBadSignature: no signature matches any configured secret.
	ReasonBadSignature Reason = "bad_signature"
	// ReasonBadToken: a bearer token or JWT is not valid.
	ReasonBadToken Reason = "bad_token"
)

// VerificationError is a verification failure. Its text names the reason
// and the header, never a secret or the body.
type VerificationError struct {
	Reason Reason
	// Header names the header at fault, when there is one.
	Header string
	// Detail adds what went wrong, without secrets.
	Detail string
}

// Error implements error.
func (e *VerificationError) Error() string {
	msg := "webhook: verification failed: " + string(e.Reason)
	if e.Header != "" {
		msg += " (" + e.Header + ")"
	}
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

// Is reports whether target is ErrVerification.
func (e *VerificationError) Is(target error) bool { return target == ErrVerification }

// fail returns a *VerificationError.
func fail(reason Reason, header, detail string) error {
	return &VerificationError{Reason: reason, Header: header, Detail: detail}
}

// ToleranceDefault is how far a signed timestamp may be from the clock.
const ToleranceDefault = 5 * time.Minute

// Option adjusts a verifier.
type Option func(*options)

type options struct {
	now       func() time.Time
	tolerance time.Duration
}

func newOptions(opts []Option) options {
	o := options{now: time.Now, tolerance: ToleranceDefault}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// WithClock makes the verifier read the time from c (for tests); nil
// keeps clock.System.
func WithClock(c clock.Clock) Option {
	return func(o *options) {
		if c != nil {
			o.now = c.Now
		}
	}
}

// WithTolerance sets how far a signed timestamp may be from the clock;
// zero or less keeps ToleranceDefault.
func WithTolerance(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.tolerance = d
		}
	}
}
