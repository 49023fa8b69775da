package scheduler

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/store/storekit"
)

// EnqueueRequest asks for ad hoc work: one run of an agent.
type EnqueueRequest struct {
	// Agent names a registered agent. Required.
	Agent string
	// Payload is the JSON handed to the agent.
	Payload json.RawMessage
	// Targets receive the result.
	Targets []store.Target
	// IdempotencyKey, when set, makes the request idempotent for its owner:
	// a second request with the same key returns the first run.
	IdempotencyKey string
	// RunAt is when the run becomes due; zero means now.
	RunAt time.Time
	// MaxAttempts bounds the attempts; zero means the retry policy's.
	MaxAttempts int
	// Timeout bounds one attempt; zero means the default timeout.
	Timeout time.Duration
	// Owner, set by an admin, enqueues for another owner; empty means the
	// acting principal.
	Owner string
}

// PrepareEnqueue checks req as Enqueue does and returns the store parameters
// of its run, for a caller that enqueues in its own transaction (with
// bunstore's RunEnqueueTx, so the application's data and the run commit or
// roll back together).
func (s *Scheduler) PrepareEnqueue(p Principal, req EnqueueRequest) (*store.RunEnqueueParams, error) {
	owner := req.Owner
	if owner == "" {
		owner = p.Subject
	}
	if owner != p.Subject && !p.Admin {
		return nil, store.Invalid("owner", "only an admin may enqueue for another owner")
	}
	if _, err := s.cfg.Agents.Lookup(req.Agent); err != nil {
		return nil, store.Invalid("agent", fmt.Sprintf("names no registered agent: %q", req.Agent))
	}
	for i, t := range req.Targets {
		if _, err := s.cfg.Delivery.Lookup(t.Channel); err != nil {
			return nil, store.Invalid(fmt.Sprintf("targets[%d].channel", i), fmt.Sprintf("names no delivery channel: %q", t.Channel))
		}
	}
	if max := s.cfg.Policy.MaxTimeout; max > 0 && req.Timeout > max {
		return nil, store.Invalid("timeout", fmt.Sprintf("must be at most %v (policy)", max))
	}
	params := &store.RunEnqueueParams{
		Kind: store.RunKindEnqueue, Owner: owner, Agent: req.Agent, Payload: req.Payload, Targets: req.Targets,
		IdempotencyKey: req.IdempotencyKey, RunAt: req.RunAt, MaxAttempts: s.maxAttempts(req.MaxAttempts), Timeout: req.Timeout,
	}
	return storekit.PrepareEnqueue(params, s.limits, "")
}

// Enqueue enqueues ad hoc work and returns its run (the original run when
// the idempotency key was used before).
func (s *Scheduler) Enqueue(ctx context.Context, p Principal, req EnqueueRequest) (*store.Run, error) {
	params, err := s.PrepareEnqueue(p, req)
	if err != nil {
		return nil, fmt.Errorf("enqueue: %w", err)
	}
	w := EnqueueWork{Kind: store.RunKindEnqueue, Agent: params.Agent}
	ctx = s.startEnqueue(ctx, w, params)
	res, err := s.st.RunEnqueue(ctx, params)
	s.endEnqueue(ctx, w, res, err)
	if err != nil {
		return nil, fmt.Errorf("enqueue: %w", err)
	}
	return res[0].Run, nil
}

// startEnqueue tells the Tracer, if any, of the enqueue w of params under
// ctx, and keeps the trace context of the context it returns with the run.
func (s *Scheduler) startEnqueue(ctx context.Context, w EnqueueWork, params *store.RunEnqueueParams) context.Context {
	if s.tracer == nil {
		return ctx
	}
	ctx = s.tracer.Start(ctx, w)
	if tc := s.tracer.TraceContext(ctx); tc != nil {
		params.TraceContext = tc
	}
	return ctx
}

// endEnqueue tells the Tracer, if any, how the enqueue w that
// startEnqueue began ended: res of one run, or err.
func (s *Scheduler) endEnqueue(ctx context.Context, w EnqueueWork, res []*store.EnqueueResult, err error) {
	if s.tracer == nil {
		return
	}
	o := &EnqueueObserved{Work: w, Err: err, Context: ctx}
	if err == nil && len(res) == 1 {
		o.Run, o.Duplicate = res[0].Run, res[0].Duplicate
	}
	s.observer.Observe(o)
}

// GetRun returns a run p may see.
func (s *Scheduler) GetRun(ctx context.Context, p Principal, id string) (*store.Run, error) {
	r, err := s.st.RunGet(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("get run: %w", err)
	}
	if !p.can(r.Owner) {
		return nil, fmt.Errorf("get run: %w", store.ErrNotFound)
	}
	return r, nil
}

// ListRuns lists the runs p may see: an admin's listing is as params say,
// anyone else's is limited to their own.
func (s *Scheduler) ListRuns(ctx context.Context, p Principal, params store.RunListParams) (*store.RunPage, error) {
	if !p.Admin {
		if p.Subject == "" || (params.Owner != "" && params.Owner != p.Subject) {
			return &store.RunPage{}, nil
		}
		params.Owner = p.Subject
	}
	page, err := s.st.RunList(ctx, &params)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	return page, nil
}

// RunSummary summarises the runs and schedules p may see: an admin's
// summary is of params.Owner's (everyone's when empty), anyone else's of
// their own.
func (s *Scheduler) RunSummary(ctx context.Context, p Principal, params store.RunSummaryParams) (*store.RunSummary, error) {
	if !p.Admin {
		if p.Subject == "" || (params.Owner != "" && params.Owner != p.Subject) {
			return nil, fmt.Errorf("summarise runs: %w", store.ErrNotFound)
		}
		params.Owner = p.Subject
	}
	sum, err := s.st.RunSummary(ctx, &params)
	if err != nil {
		return nil, fmt.Errorf("summarise runs: %w", err)
	}
	return sum, nil
}

// CancelRun cancels a run: a queued run ends at once; a running run's agent
// sees its context cancelled within a second, on whichever node runs it, and
// the run ends cancelled, even if its node stops meanwhile and gives it
// back. Either way reason (empty means "cancelled") becomes the run's
// error. A run that already ended is store.ErrConflict.
func (s *Scheduler) CancelRun(ctx context.Context, p Principal, id, reason string) (*store.Run, error) {
	if _, err := s.GetRun(ctx, p, id); err != nil {
		return nil, fmt.Errorf("cancel run: %w", err)
	}
	if reason == "" {
		reason = "cancelled by " + p.Subject
	}
	r, err := s.st.RunCancel(ctx, &store.RunCancelParams{ID: id, Reason: reason})
	if err != nil {
		return nil, fmt.Errorf("cancel run: %w", err)
	}
	if w := s.running(); w != nil {
		w.cancel(id, errCancelled) // at once when it runs here
	}
	if r.Status == store.RunCancelled {
		// A queued run ends here, never reaching a worker; a running one
		// ends on its node, which observes it.
		s.observer.Observe(&RunEndObserved{Run: r, Status: r.Status, Attempts: r.Attempt})
	}
	return r, nil
}

// RunDeliveries returns the delivery attempts of a run p may see, in the
// order they were made.
func (s *Scheduler) RunDeliveries(ctx context.Context, p Principal, runID string) ([]*store.Delivery, error) {
	if _, err := s.GetRun(ctx, p, runID); err != nil {
		return nil, err
	}
	ds, err := s.st.DeliveryList(ctx, &store.DeliveryListParams{RunID: runID})
	if err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	return ds, nil
}
