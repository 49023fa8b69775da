package bunstore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/uptrace/bun"

	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/store/storekit"
)

// EventAccept implements store.EventStore.
func (s *Store) EventAccept(ctx context.Context, params *store.EventAcceptParams) (*store.EventAcceptResult, error) {
	p, err := storekit.PrepareEventAccept(params, s.limits)
	if err != nil {
		return nil, err
	}
	now := s.stamp()
	runID := s.ids.New(now)
	ev := &eventRow{ID: s.ids.New(now), Source: p.Source, DeliveryID: p.DeliveryID, Body: p.Body,
		RunID: runID, Owner: p.Run.Owner, ReceivedAt: now}
	if p.Headers != nil {
		b, _ := json.Marshal(p.Headers)
		ev.Headers = string(b)
	}
	var res *store.EventAcceptResult
	if p.Run.ScheduleID == "" {
		res, err = s.acceptPlain(ctx, ev, &p.Run)
	} else {
		err = s.tx(ctx, func(tx bun.Tx, out *outbox) error {
			var ids []string
			if err := tx.NewInsert().Model(ev).On("CONFLICT DO NOTHING").Returning("id").Scan(ctx, &ids); err != nil {
				return err
			}
			if len(ids) == 0 { // delivered before
				res, err = s.acceptedBefore(ctx, tx, p.Source, p.DeliveryID)
				return err
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
	}
	if err != nil {
		return nil, fmt.Errorf("accept event %s/%s: %w", params.Source, params.DeliveryID, err)
	}
	return res, nil
}

// acceptPlain records event ev and the run p of an event whose run names no
// schedule (so no overlap policy applies): every webhook of the scheduler.
// The batch writer (accept.go) writes it with the accepts of concurrent
// callers.
func (s *Store) acceptPlain(ctx context.Context, ev *eventRow, p *store.RunEnqueueParams) (*store.EventAcceptResult, error) {
	r := s.newRunRow(p, ev.ReceivedAt)
	r.ID, r.EventID, r.Kind = ev.RunID, ev.ID, string(store.RunKindWebhook)
	req := &acceptReq{ctx: ctx, ev: ev, run: &r, done: make(chan acceptDone, 1)}
	dup, err := s.acceptBatched(req)
	if err != nil || dup != nil {
		return dup, err
	}
	return &store.EventAcceptResult{Event: ev.event(), Run: r.run()}, nil
}

// acceptedBefore is the result of an event delivered before: the original
// event and its run (none when the run's history was pruned).
func (s *Store) acceptedBefore(ctx context.Context, db bun.IDB, source, deliveryID string) (*store.EventAcceptResult, error) {
	orig := new(eventRow)
	if err := db.NewSelect().Model(orig).Where("source = ? AND delivery_id = ?", source, deliveryID).Scan(ctx); err != nil {
		return nil, err
	}
	res := &store.EventAcceptResult{Event: orig.event(), Duplicate: true}
	var runs []runRow
	if err := db.NewSelect().Model(&runs).Where("id = ?", orig.RunID).Scan(ctx); err != nil {
		return nil, err
	}
	if len(runs) == 1 {
		res.Run = runs[0].run()
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
