package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/go-kit/log/level"

	"github.com/heraldhq/herald/api/auth"
	"github.com/heraldhq/herald/scheduler"
	"github.com/heraldhq/herald/store"
)

// Problem is an application/problem+json body (RFC 9457).
type Problem struct {
	// Type identifies the kind of problem, as a URN such as
	// "urn:herald:problem:invalid-input".
	Type string `json:"type"`
	// Title is the same for every problem of a Type.
	Title string `json:"title"`
	// Status is the HTTP status code.
	Status int `json:"status"`
	// Detail says what went wrong with this request.
	Detail string `json:"detail"`
	// Errors lists the invalid fields of an invalid-input problem.
	Errors []FieldError `json:"errors,omitempty"`
}

// FieldError is one invalid field: its JSON path as the client sent it
// ("deliver[0].to", or a query parameter's name) and the rule it breaks.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Problem types.
const (
	problemInvalid      = "invalid-input"
	problemUnauthorized = "unauthorized"
	problemForbidden    = "forbidden"
	problemNotFound     = "not-found"
	problemMethod       = "method-not-allowed"
	problemConflict     = "conflict"
	problemLimit        = "limit-reached"
	problemTooLarge     = "body-too-large"
	problemMediaType    = "unsupported-media-type"
	problemRateLimited  = "rate-limited"
	problemUnavailable  = "unavailable"
	problemInternal     = "internal"
)

var problemTitles = map[string]string{
	problemInvalid:      "Invalid input",
	problemUnauthorized: "Missing or invalid credentials",
	problemForbidden:    "Not allowed",
	problemNotFound:     "Not found",
	problemMethod:       "Method not allowed",
	problemConflict:     "Conflict",
	problemLimit:        "Limit reached",
	problemTooLarge:     "Request body too large",
	problemMediaType:    "Unsupported media type",
	problemRateLimited:  "Too many requests",
	problemUnavailable:  "Service unavailable",
	problemInternal:     "Internal error",
}

// problem returns the Problem of kind with detail.
func problem(status int, kind, detail string) *Problem {
	return &Problem{Type: "urn:herald:problem:" + kind, Title: problemTitles[kind], Status: status, Detail: detail}
}

// invalid returns the 400 problem of field errors.
func invalid(errs ...FieldError) *Problem {
	p := problem(http.StatusBadRequest, problemInvalid, "")
	p.Errors = errs
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Field + ": " + e.Message
	}
	p.Detail = strings.Join(msgs, "; ")
	return p
}

// invalidField is invalid with one field.
func invalidField(field, format string, args ...any) *Problem {
	return invalid(FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// Error implements error, so that handlers can return a *Problem.
func (p *Problem) Error() string { return p.Title + ": " + p.Detail }

// writeProblem writes p.
func writeProblem(w http.ResponseWriter, p *Problem) {
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	switch p.Status {
	case http.StatusUnauthorized:
		if h.Get("WWW-Authenticate") == "" {
			h.Set("WWW-Authenticate", `Bearer realm="herald"`)
		}
	case http.StatusServiceUnavailable:
		if h.Get("Retry-After") == "" {
			h.Set("Retry-After", "1")
		}
	}
	b, _ := json.Marshal(p)
	w.WriteHeader(p.Status)
	_, _ = w.Write(append(b, '\n'))
}

// what names the record of a route for error details: "schedule", "run".
type what string

// fail writes the problem of err, an error of the scheduler (or a
// *Problem), in words fit for the client: never the error's own text,
// which may carry a driver's message. Unexpected errors are logged with
// the request id and answered 500.
func (a *API) fail(w http.ResponseWriter, r *http.Request, rec what, err error, fields fieldMap) {
	var p *Problem
	var ve *store.ValidationError
	switch {
	case errors.As(err, &p):
	case errors.As(err, &ve):
		p = invalid(FieldError{Field: fields.path(ve.Field), Message: fields.rule(ve.Rule)})
	case errors.Is(err, store.ErrNotFound):
		p = problem(http.StatusNotFound, problemNotFound, string(rec)+" not found")
	case errors.Is(err, scheduler.ErrStatic):
		p = problem(http.StatusConflict, problemConflict, "the schedule is static: it is declared in the configuration and cannot be changed or deleted here")
	case errors.Is(err, store.ErrLimit):
		p = problem(http.StatusConflict, problemLimit, fmt.Sprintf(
			"the owner has %d active schedules, the most allowed; pause or delete one first", a.sched.Policy().MaxActiveSchedules))
	case errors.Is(err, store.ErrConflict):
		p = problem(http.StatusConflict, problemConflict, conflictDetail(rec))
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, scheduler.ErrNotStarted),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, auth.ErrUnavailable):
		level.Warn(a.logger).Log("msg", "request failed, retryable", "request_id", requestID(r), "err", err)
		p = problem(http.StatusServiceUnavailable, problemUnavailable, "the service cannot answer now; retry later")
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		return // the client left
	default:
		level.Error(a.logger).Log("msg", "request failed", "request_id", requestID(r), "err", err)
		p = problem(http.StatusInternalServerError, problemInternal, "internal error; the request id is "+requestID(r))
	}
	writeProblem(w, p)
}

// conflictDetail says what a conflict is about for each kind of record.
func conflictDetail(rec what) string {
	switch rec {
	case "schedule":
		return "the schedule conflicts with the current state: a schedule of that name exists for this owner, or the version sent is not the current one"
	case "run":
		return "the run has already ended"
	}
	return "the request conflicts with the current state"
}
