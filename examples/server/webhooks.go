package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/heraldhq/herald/scheduler"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/webhook"
)

// schedulerSink records webhook events through the scheduler: the event
// and its run in one transaction, deduplicated on (source, delivery id).
// Its errors follow the webhook.Sink contract (see sinkError).
func schedulerSink(s *scheduler.Scheduler) webhook.Sink {
	return webhook.SinkFunc(func(ctx context.Context, e *webhook.Event) (*webhook.Receipt, error) {
		res, err := s.AcceptEvent(ctx, scheduler.EventRequest{Source: e.Source, DeliveryID: e.DeliveryID,
			Headers: e.Headers, Body: e.Body, Agent: e.Agent, Owner: e.Owner})
		if err != nil {
			return nil, sinkError(err)
		}
		rc := &webhook.Receipt{EventID: res.Event.ID, Duplicate: res.Duplicate}
		if res.Run != nil {
			rc.RunID = res.Run.ID
		}
		return rc, nil
	})
}

// sinkError translates an error of the scheduler's AcceptEvent into the
// webhook.Sink contract. A *store.ValidationError on what the sender sent
// (the delivery id, the body, the source's name) becomes a
// *webhook.InvalidEventError naming the Event field, which the handler
// answers 400 (naming the header the delivery id came from): the same
// delivery would be refused again. The store's error stays in the chain.
//
// Anything else is returned as it is, and answered 503 so that the sender
// retries: the store unavailable, a timeout, and a refusal of what the
// source's configuration sets (an unregistered agent, an owner too long),
// which the operator has to fix, not the sender, and after which a retry
// succeeds.
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
