package delivery

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors of the Router; match them with errors.Is.
var (
	// ErrUnknownChannel: no deliverer is registered for the channel. The
	// Router's errors that match it are permanent.
	ErrUnknownChannel = errors.New("delivery: unknown channel")
	// ErrDuplicate: a deliverer is already registered for the channel.
	ErrDuplicate = errors.New("delivery: channel already registered")
)

// Permanent marks err as not worth retrying. nil stays nil. The result's
// text is err's text, and errors.Is and errors.As see through it to err.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err (anywhere in its chain) was marked by
// Permanent. A context error is never permanent: IsPermanent reports false
// for any err that matches context.Canceled or context.DeadlineExceeded.
func IsPermanent(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	_, ok := errors.AsType[*permanentError](err)
	return ok
}

// RetryAfter marks a transient err whose receiver asked to wait d (as an
// HTTP Retry-After does): the next attempt comes no sooner than d after this
// one. nil stays nil; a d below zero counts as zero. The result's text is
// err's text, and errors.Is and errors.As see through it to err.
func RetryAfter(err error, d time.Duration) error {
	if err == nil {
		return nil
	}
	return &retryAfterError{err: err, d: max(d, 0)}
}

// RetryDelay returns the d of the RetryAfter in err's chain; when the chain
// holds several, the outermost one (the first errors.As finds). It reports
// false when there is none.
func RetryDelay(err error) (time.Duration, bool) {
	e, ok := errors.AsType[*retryAfterError](err)
	if !ok {
		return 0, false
	}
	return e.d, true
}

// permanentError is the error of Permanent.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// retryAfterError is the error of RetryAfter.
type retryAfterError struct {
	err error
	d   time.Duration
}

func (e *retryAfterError) Error() string { return e.err.Error() }
func (e *retryAfterError) Unwrap() error { return e.err }
