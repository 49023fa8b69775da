package agent

import (
	"errors"
	"time"
)

// Sentinel errors of the Registry; match them with errors.Is.
var (
	// ErrUnknown: no agent is registered under the name.
	ErrUnknown = errors.New("agent: unknown agent")
	// ErrDuplicate: an agent is already registered under the name.
	ErrDuplicate = errors.New("agent: name already registered")
)

// Permanent wraps err so the scheduler fails the run at once instead of
// retrying. nil stays nil. The result's text is err's text, and errors.Is and
// errors.As see through it to err.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err (anywhere in its chain) was wrapped by
// Permanent.
func IsPermanent(err error) bool {
	_, ok := errors.AsType[*permanentError](err)
	return ok
}

// RetryAfter wraps err so the scheduler retries no sooner than d from the
// end of the attempt (still counting attempts). nil stays nil; a d below
// zero counts as zero. The result's text is err's text, and errors.Is and
// errors.As see through it to err.
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
