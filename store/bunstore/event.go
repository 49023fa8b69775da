package bunstore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/uptrace/bun"

	"github.com/heraldhq/herald/store"
)

// EventAccept implements store.EventStore.
func (s *Store) EventAccept(ctx context.Context, params *store.EventAcceptParams) (*store.EventAcceptResult, error) {
	p, err := store.PrepareEventAccept(params, s.limits)
	if err != nil {
		return nil, err
	}
	var res *store.EventAcceptResult
	err = s.tx(ctx, func(tx bun.Tx, out *outbox) error {
		ev := &eventRow{ID: newID(), Source: p.Source, DeliveryID: p.DeliveryID, Body: p.Body,
			RunID: newID(), ReceivedAt: s.clock()}
		if p.Headers != nil {
			b, _ := json.Marshal(p.Headers)
			ev.Headers = string(b)
		}
		var ids []string
		if err := tx.NewInsert().Model(ev).On("CONFLICT DO NOTHING").Returning("id").Scan(ctx, &ids); err != nil {
			return err
		}
		if len(ids) == 0 { // delivered before
			orig := new(eventRow)
			if err := tx.NewSelect().Model(orig).Where("source = ? AND delivery_id = ?", p.Source, p.DeliveryID).Scan(ctx); err != nil {
				return err
			}
			res = &store.EventAcceptResult{Event: orig.event(), Duplicate: true}
			var runs []runRow // none when the run's history was pruned
			if err := tx.NewSelect().Model(&runs).Where("id = ?", orig.RunID).Scan(ctx); err != nil {
				return err
			}
			if len(runs) == 1 {
				res.Run = runs[0].run()
			}
			return nil
		}
		rs, err := s.enqueue(ctx, tx, []*store.RunEnqueueParams{&p.Run}, out, func(_ int, r *runRow) {
			r.ID, r.EventID = ev.RunID, ev.ID
		})
		if err != nil {
			return err
		}
		res = &store.EventAcceptResult{Event: ev.event(), Run: rs[0].Run}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("accept event %s/%s: %w", params.Source, params.DeliveryID, err)
	}
	return res, nil
}

// EventGet implements store.EventStore.
func (s *Store) EventGet(ctx context.Context, id string) (*store.Event, error) {
	if s.isClosed() {
		return nil, store.ErrClosed
	}
	if !validID(id) {
		return nil, fmt.Errorf("get event %s: %w", id, store.ErrNotFound)
	}
	row := new(eventRow)
	if err := s.db.NewSelect().Model(row).Where("id = ?", id).Scan(ctx); err != nil {
		return nil, fmt.Errorf("get event %s: %w", id, translate(err))
	}
	return row.event(), nil
}

// EventList implements store.EventStore.
func (s *Store) EventList(ctx context.Context, p *store.EventListParams) (*store.EventPage, error) {
	if s.isClosed() {
		return nil, store.ErrClosed
	}
	if p == nil {
		p = &store.EventListParams{}
	}
	limit := store.ListLimit(p.Limit)
	var rows []eventRow
	q := s.db.NewSelect().Model(&rows).OrderExpr("id DESC").Limit(int64(limit + 1))
	if p.Source != "" {
		q = q.Where("source = ?", p.Source)
	}
	if p.Cursor != "" {
		if !validID(p.Cursor) {
			return nil, store.Invalid("cursor", "must be the Next of a previous page")
		}
		q = q.Where("id < ?", p.Cursor)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, fmt.Errorf("list events: %w", translate(err))
	}
	page := &store.EventPage{}
	if len(rows) > limit {
		rows = rows[:limit]
		page.Next = rows[limit-1].ID
	}
	page.Events = make([]*store.Event, len(rows))
	for i := range rows {
		page.Events[i] = rows[i].event()
	}
	return page, nil
}
