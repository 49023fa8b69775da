package memstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/store/storekit"
)

// EventAccept implements store.EventStore.
func (s *Store) EventAccept(ctx context.Context, params *store.EventAcceptParams) (*store.EventAcceptResult, error) {
	now, err := s.begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("accept event: %w", err)
	}
	defer s.mu.Unlock()
	c, err := storekit.PrepareEventAccept(params, s.limits)
	if err != nil {
		return nil, fmt.Errorf("accept event: %w", err)
	}
	if id, ok := s.eventKeys[eventKey{c.Source, c.DeliveryID}]; ok {
		e := s.events[id]
		res := &store.EventAcceptResult{Event: cloneEvent(e), Duplicate: true}
		if r := s.runs[e.RunID]; r != nil {
			res.Run = cloneRun(r)
		}
		return res, nil
	}
	runID, eventID := s.ids.New(now), s.ids.New(now)
	var fx effects
	r, _ := s.enqueueLocked(&c.Run, runID, eventID, now, nil, &fx)
	e := &store.Event{
		ID:         eventID,
		Source:     c.Source,
		DeliveryID: c.DeliveryID,
		Headers:    c.Headers,
		Body:       cloneBytes(c.Body),
		RunID:      r.ID,
		Owner:      r.Owner,
		ReceivedAt: now,
	}
	s.events[e.ID] = e
	s.eventKeys[eventKey{e.Source, e.DeliveryID}] = e.ID
	s.publish(&fx)
	return &store.EventAcceptResult{Event: cloneEvent(e), Run: cloneRun(r)}, nil
}

// EventGet implements store.EventStore.
func (s *Store) EventGet(ctx context.Context, id string) (*store.Event, error) {
	if _, err := s.begin(ctx); err != nil {
		return nil, fmt.Errorf("get event %s: %w", id, err)
	}
	defer s.mu.Unlock()
	e, ok := s.events[id]
	if !ok {
		return nil, fmt.Errorf("get event %s: %w", id, store.ErrNotFound)
	}
	return cloneEvent(e), nil
}

// EventList implements store.EventStore: newest first, the cursor being the
// last ID of the previous page.
func (s *Store) EventList(ctx context.Context, params *store.EventListParams) (*store.EventPage, error) {
	if _, err := s.begin(ctx); err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	defer s.mu.Unlock()
	var p store.EventListParams
	if params != nil {
		p = *params
	}
	from, to := store.Timestamp(p.ReceivedFrom), store.Timestamp(p.ReceivedTo)
	var rows []*store.Event
	for _, e := range s.events {
		switch {
		case p.Source != "" && e.Source != p.Source,
			p.Owner != "" && e.Owner != p.Owner,
			!from.IsZero() && e.ReceivedAt.Before(from),
			!to.IsZero() && !e.ReceivedAt.Before(to),
			p.Cursor != "" && e.ID >= p.Cursor:
			continue
		}
		rows = append(rows, e)
	}
	slices.SortFunc(rows, func(a, b *store.Event) int { return cmp.Compare(b.ID, a.ID) })
	page := &store.EventPage{Events: []*store.Event{}}
	limit := storekit.ListLimit(p.Limit)
	for _, e := range rows[:min(limit, len(rows))] {
		page.Events = append(page.Events, cloneEvent(e))
	}
	if len(rows) > limit {
		page.Next = rows[limit-1].ID
	}
	return page, nil
}
