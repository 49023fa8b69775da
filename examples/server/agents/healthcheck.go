package agents

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/heraldhq/herald/agent"
)

// HealthCheckTimeoutDefault bounds each check when
// HealthCheckConfig.Timeout is zero.
const HealthCheckTimeoutDefault = 5 * time.Second

// Check is one thing HealthCheck checks: the store, a plugin.
type Check struct {
	// Name names the check in the report ("store", "plugin slack"); unique
	// within a HealthCheck. Required.
	Name string
	// Func reports whether the thing is healthy: nil is healthy, an error
	// says why not. It should honour ctx, which ends after the check's
	// timeout: a Func still running then is reported unhealthy and left to
	// return on its own. A panic is reported as the check's error.
	// Required.
	Func func(ctx context.Context) error
}

// HealthCheckConfig configures NewHealthCheck.
type HealthCheckConfig struct {
	// Checks are run, all at once, by every run of the agent; at least one.
	Checks []Check
	// Timeout bounds each check; zero means HealthCheckTimeoutDefault. A
	// check that has not answered in time is unhealthy. Not negative.
	Timeout time.Duration
}

// HealthCheck is the "health_check" agent: it runs its checks concurrently,
// each under the configured timeout, and reports each one's health, error
// and duration. Create it with NewHealthCheck; it is safe for concurrent
// use.
//
// Its payload may be empty, or an object whose "checks" lists the names of
// the checks to run (all of them when absent): {"checks": ["store"]}. A
// payload that is not such an object, or names an unknown check, fails the
// run without retry.
//
// When every check is healthy, the Result's Output is a HealthReport and
// its Summary reads "3 of 3 healthy". When any check fails, Run returns no
// Result and an *UnhealthyError, retryable, whose text is the summary with
// each unhealthy check's reason ("health check: 1 of 2 healthy; unhealthy:
// store (ping: store: closed)"): the scheduler records and delivers only
// the error of a failed attempt, so the text carries what went wrong, and
// errors.As gives a caller the whole report.
type HealthCheck struct {
	checks  []Check
	timeout time.Duration
}

var _ agent.Agent = (*HealthCheck)(nil)

// NewHealthCheck returns a HealthCheck running cfg.Checks, or an error when
// cfg is invalid (no checks, an unnamed, duplicate or nil check, a negative
// timeout).
func NewHealthCheck(cfg HealthCheckConfig) (*HealthCheck, error) {
	if len(cfg.Checks) == 0 {
		return nil, errors.New("agents: health check: no checks")
	}
	seen := make(map[string]bool, len(cfg.Checks))
	for i, c := range cfg.Checks {
		switch {
		case c.Name == "":
			return nil, fmt.Errorf("agents: health check: check %d has no name", i)
		case seen[c.Name]:
			return nil, fmt.Errorf("agents: health check: two checks named %q", c.Name)
		case c.Func == nil:
			return nil, fmt.Errorf("agents: health check: check %q has no Func", c.Name)
		}
		seen[c.Name] = true
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("agents: health check: Timeout %v is negative", cfg.Timeout)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = HealthCheckTimeoutDefault
	}
	return &HealthCheck{checks: slices.Clone(cfg.Checks), timeout: cfg.Timeout}, nil
}

// HealthReport is the output of HealthCheck.
type HealthReport struct {
	// Healthy is true when every check is.
	Healthy bool `json:"healthy"`
	// Checks are the results, in the order the checks were configured.
	Checks []CheckResult `json:"checks"`
}

// CheckResult is the outcome of one Check.
type CheckResult struct {
	// Name is the check's name.
	Name string `json:"name"`
	// Healthy is true when the check returned nil in time.
	Healthy bool `json:"healthy"`
	// Error says why the check is unhealthy; empty when it is healthy.
	Error string `json:"error,omitempty"`
	// DurationMS is how long the check took, in milliseconds.
	DurationMS int64 `json:"duration_ms"`
}

// Summary is the report in one line: "2 of 3 healthy; unhealthy: store
// (ping: store: closed)", each reason shortened to its first line.
func (r *HealthReport) Summary() string {
	var bad []string
	for _, c := range r.Checks {
		if !c.Healthy {
			bad = append(bad, fmt.Sprintf("%s (%s)", c.Name, reason(c.Error)))
		}
	}
	s := fmt.Sprintf("%d of %d healthy", len(r.Checks)-len(bad), len(r.Checks))
	if len(bad) > 0 {
		s += "; unhealthy: " + strings.Join(bad, ", ")
	}
	return s
}

// UnhealthyError is the error of a HealthCheck run in which a check failed.
type UnhealthyError struct {
	// Report is the whole report, healthy checks included.
	Report *HealthReport
}

// Error returns "health check: " and the report's Summary.
func (e *UnhealthyError) Error() string { return "health check: " + e.Report.Summary() }

// healthPayload is what HealthCheck understands in its payload.
type healthPayload struct {
	// Checks names the checks to run; all of them when nil.
	Checks []string `json:"checks"`
}

// Run implements agent.Agent.
func (h *HealthCheck) Run(ctx context.Context, t *agent.Task) (*agent.Result, error) {
	checks, err := h.selected(t.Payload)
	if err != nil {
		return nil, agent.Permanent(err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rep := &HealthReport{Healthy: true, Checks: make([]CheckResult, len(checks))}
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Go(func() { rep.Checks[i] = h.run(ctx, c) })
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, c := range rep.Checks {
		rep.Healthy = rep.Healthy && c.Healthy
	}
	if !rep.Healthy {
		return nil, &UnhealthyError{Report: rep}
	}
	out, err := json.Marshal(rep)
	if err != nil {
		return nil, fmt.Errorf("health check: encode report: %w", err)
	}
	return &agent.Result{Output: out, Summary: rep.Summary()}, nil
}

// selected returns the checks payload asks for.
func (h *HealthCheck) selected(payload json.RawMessage) ([]Check, error) {
	var p healthPayload
	if len(bytes.TrimSpace(payload)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(payload))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&p); err != nil {
			return nil, fmt.Errorf("health check: payload must be empty or an object such as {\"checks\": [\"store\"]}: %w", err)
		}
	}
	if p.Checks == nil {
		return h.checks, nil
	}
	var out []Check
	for _, name := range p.Checks {
		i := slices.IndexFunc(h.checks, func(c Check) bool { return c.Name == name })
		if i < 0 {
			names := make([]string, len(h.checks))
			for j, c := range h.checks {
				names[j] = c.Name
			}
			return nil, fmt.Errorf("health check: payload field \"checks\": unknown check %q (known: %s)", name, strings.Join(names, ", "))
		}
		if !slices.ContainsFunc(out, func(c Check) bool { return c.Name == name }) {
			out = append(out, h.checks[i])
		}
	}
	if len(out) == 0 {
		return nil, errors.New("health check: payload field \"checks\" must name at least one check")
	}
	return out, nil
}

// run runs check c under its timeout. It returns when c does or when its
// timeout ends, whichever is first: a check that ignores its context is
// left to finish on its own, reported unhealthy.
func (h *HealthCheck) run(ctx context.Context, c Check) CheckResult {
	cctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	start := time.Now()
	done := make(chan error, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- fmt.Errorf("check panicked: %v", p)
			}
		}()
		done <- c.Func(cctx)
	}()
	var err error
	select {
	case err = <-done:
	case <-cctx.Done():
		err = cctx.Err()
	}
	res := CheckResult{Name: c.Name, Healthy: err == nil, DurationMS: time.Since(start).Milliseconds()}
	switch {
	case err == nil:
	case ctx.Err() == nil && errors.Is(cctx.Err(), context.DeadlineExceeded):
		res.Error = fmt.Sprintf("no answer within %v", h.timeout)
		if !errors.Is(err, context.DeadlineExceeded) {
			res.Error += ": " + err.Error()
		}
	default:
		res.Error = err.Error()
	}
	return res
}
