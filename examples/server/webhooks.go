package main

import (
	"context"

	"github.com/heraldhq/herald/scheduler"
	"github.com/heraldhq/herald/webhook"
)

// schedulerSink records webhook events through the scheduler: the event
// and its run in one transaction, deduplicated on (source, delivery id).
func schedulerSink(s *scheduler.Scheduler) webhook.Sink {
	return webhook.SinkFunc(func(ctx context.Context, e *webhook.Event) (*webhook.Receipt, error) {
		res, err := s.AcceptEvent(ctx, scheduler.EventRequest{Source: e.Source, DeliveryID: e.DeliveryID,
			Headers: e.Headers, Body: e.Body, Agent: e.Agent, Owner: e.Owner})
		if err != nil {
			return nil, err
		}
		rc := &webhook.Receipt{EventID: res.Event.ID, Duplicate: res.Duplicate}
		if res.Run != nil {
			rc.RunID = res.Run.ID
		}
		return rc, nil
	})
}
