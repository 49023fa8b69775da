package scheduler

import (
	"context"
	"fmt"

	"github.com/heraldhq/herald/store"
)

// EventRequest is a verified webhook delivery and the run it asks for.
type EventRequest struct {
	// Source and DeliveryID identify the delivery; a second request with
	// the same pair is a duplicate.
	Source     string
	DeliveryID string
	// Headers are the request headers kept with the event.
	Headers map[string][]string
	// Body is the raw request body.
	Body []byte
	// Agent and Owner are the run's; the agent must be registered.
	Agent string
	Owner string
	// Targets receive the run's result.
	Targets []store.Target
}

// AcceptEvent records a verified webhook event and enqueues its run in one
// transaction, deduplicated on (Source, DeliveryID): a duplicate returns the
// original event and run with Duplicate set and writes nothing. When it
// fails, nothing was written, so the sender's retry succeeds. A webhook
// handler's sink calls it.
func (s *Scheduler) AcceptEvent(ctx context.Context, req EventRequest) (*store.EventAcceptResult, error) {
	if _, err := s.cfg.Agents.Lookup(req.Agent); err != nil {
		return nil, fmt.Errorf("accept event: %w", store.Invalid("agent", fmt.Sprintf("names no registered agent: %q", req.Agent)))
	}
	params := &store.EventAcceptParams{
		Source: req.Source, DeliveryID: req.DeliveryID, Headers: req.Headers, Body: req.Body,
		Run: store.RunEnqueueParams{Owner: req.Owner, Agent: req.Agent, Targets: req.Targets, MaxAttempts: s.cfg.Retry.MaxAttempts},
	}
	w := EnqueueWork{Kind: store.RunKindWebhook, Agent: req.Agent, Source: req.Source}
	ctx = s.startEnqueue(ctx, w, &params.Run)
	res, err := s.st.EventAccept(ctx, params)
	if s.tracer != nil {
		o := &EnqueueObserved{Work: w, Err: err, Context: ctx}
		if res != nil {
			o.Run, o.Duplicate = res.Run, res.Duplicate
		}
		s.observer.Observe(o)
	}
	if err != nil {
		return nil, fmt.Errorf("accept event: %w", err)
	}
	return res, nil
}

// GetEvent returns a webhook event p may see: an admin sees every event,
// anyone else the events whose run they own. Any other event is
// store.ErrNotFound.
func (s *Scheduler) GetEvent(ctx context.Context, p Principal, id string) (*store.Event, error) {
	e, err := s.st.EventGet(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("get event: %w", err)
	}
	if !p.can(e.Owner) {
		return nil, fmt.Errorf("get event: %w", store.ErrNotFound)
	}
	return e, nil
}

// ListEvents lists the webhook events p may see: an admin's listing is as
// params say, anyone else's is limited to the events whose run they own.
func (s *Scheduler) ListEvents(ctx context.Context, p Principal, params store.EventListParams) (*store.EventPage, error) {
	if !p.Admin {
		if p.Subject == "" || (params.Owner != "" && params.Owner != p.Subject) {
			return &store.EventPage{}, nil
		}
		params.Owner = p.Subject
	}
	page, err := s.st.EventList(ctx, &params)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	return page, nil
}
