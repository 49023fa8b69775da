package scheduler

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/webhook"
)

var (
	_ webhook.Sink          = (*Scheduler)(nil)
	_ webhook.SourceChecker = (*Scheduler)(nil)
)

// Accept makes the scheduler a webhook.Handler's sink: it records the
// verified event and enqueues its run in one transaction (AcceptEvent),
// with the source's agent, owner and delivery targets. Its errors follow
// the webhook.Sink contract: what the sender sent and the store refuses (a
// delivery id or a body over the store's limits) is a
// *webhook.InvalidEventError, answered 400, since the same delivery would
// be refused again; anything else (the store unavailable, a timeout) is
// answered 503, and the sender's retry succeeds.
func (s *Scheduler) Accept(ctx context.Context, e *webhook.Event) (*webhook.Receipt, error) {
	targets := slices.Clone(e.Targets)
	res, err := s.AcceptEvent(ctx, EventRequest{Source: e.Source, DeliveryID: e.DeliveryID,
		Headers: e.Headers, Body: e.Body, Agent: e.Agent, Owner: e.Owner, Targets: targets})
	if err != nil {
		return nil, sinkError(err)
	}
	rc := &webhook.Receipt{EventID: res.Event.ID, RunID: res.Event.RunID, Duplicate: res.Duplicate}
	if res.Run != nil {
		rc.RunID = res.Run.ID
	}
	return rc, nil
}

// CheckSource refuses a webhook source whose runs the scheduler could never
// enqueue: an unregistered agent, a delivery channel the router does not
// know, a delivery condition that does not exist. webhook.NewHandler calls
// it for each source.
func (s *Scheduler) CheckSource(src webhook.Source) error {
	if _, err := s.cfg.Agents.Lookup(src.Agent); err != nil {
		return fmt.Errorf("Agent: names no registered agent: %q", src.Agent)
	}
	for i, t := range src.Targets {
		if _, err := s.cfg.Delivery.Lookup(t.Channel); err != nil {
			return fmt.Errorf("Targets[%d].Channel: names no delivery channel: %q", i, t.Channel)
		}
		switch t.On {
		case "", delivery.OnAlways, delivery.OnSuccess, delivery.OnFailure:
		default:
			return fmt.Errorf("Targets[%d].On: must be always, success or failure, not %q", i, t.On)
		}
	}
	return nil
}

// sinkError translates an error of AcceptEvent into the webhook.Sink
// contract. A *store.ValidationError on what the sender sent (the delivery
// id, the body, the source's name) becomes a *webhook.InvalidEventError
// naming the Event field, with the store's error kept in the chain.
// Anything else is returned as it is: the store unavailable, a timeout,
// and a refusal of what the source's configuration sets, which the
// operator has to fix and after which a retry succeeds.
func sinkError(err error) error {
	var ve *store.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	var field string
	switch ve.Field {
	case "delivery_id":
		field = "DeliveryID"
	case "body":
		field = "Body"
	case "source":
		field = "Source"
	default:
		return err
	}
	return fmt.Errorf("%w: %w", &webhook.InvalidEventError{Field: field, Rule: ve.Rule}, err)
}
