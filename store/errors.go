package store

import (
	"errors"
	"strings"
)

// Sentinel errors returned by every Store. Implementations wrap them with
// context; callers match them with errors.Is.
var (
	// ErrNotFound: the record does not exist.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict: the write conflicts with the current state (a duplicate
	// name, a stale version, a run that has already finished).
	ErrConflict = errors.New("store: conflict")
	// ErrInvalid: the input breaks a rule; the error is a *ValidationError
	// naming the field and the rule. Nothing was written.
	ErrInvalid = errors.New("store: invalid input")
	// ErrLimit: a configured limit was reached (used by the scheduler's
	// policies).
	ErrLimit = errors.New("store: limit reached")
	// ErrLeaseLost: the run is not running under the caller's lease (it was
	// rescued, finished or cancelled by someone else). Nothing was written.
	ErrLeaseLost = errors.New("store: run not held by this node")
	// ErrUnavailable: the database could not be reached or refused service.
	// The operation may be retried; nothing was half-written.
	ErrUnavailable = errors.New("store: unavailable")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("store: closed")
)

// ValidationError reports input that breaks a rule. It matches ErrInvalid.
type ValidationError struct {
	// Field is the input's name, as in "trigger.cron" or "runs[2].agent".
	Field string
	// Rule says what the field must be, as in "must not be empty".
	Rule string
}

// Error implements error.
func (e *ValidationError) Error() string {
	return "store: invalid " + e.Field + ": " + e.Rule
}

// Is reports whether target is ErrInvalid.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

// Invalid returns a *ValidationError for field and rule.
func Invalid(field, rule string) error { return &ValidationError{Field: field, Rule: rule} }

// LeaseLostError lists the runs a batch transition refused because the
// caller no longer holds them. It matches ErrLeaseLost.
type LeaseLostError struct {
	// RunIDs are the refused runs, in the order they were given.
	RunIDs []string
}

// Error implements error.
func (e *LeaseLostError) Error() string {
	return "store: run not held by this node: " + strings.Join(e.RunIDs, ", ")
}

// Is reports whether target is ErrLeaseLost.
func (e *LeaseLostError) Is(target error) bool { return target == ErrLeaseLost }
