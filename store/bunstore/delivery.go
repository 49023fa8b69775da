package bunstore

import (
	"context"
	"fmt"

	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/store/storekit"
)

// DeliveryRecord implements store.DeliveryStore.
func (s *Store) DeliveryRecord(ctx context.Context, d *store.Delivery) (*store.Delivery, error) {
	c, err := storekit.PrepareDelivery(d, s.clk.Now())
	if err != nil {
		return nil, err
	}
	if !validID(c.RunID) {
		return nil, fmt.Errorf("record delivery of run %s: %w", c.RunID, store.ErrNotFound)
	}
	row := &deliveryRow{ID: newID(), RunID: c.RunID, Channel: c.Channel, Address: c.To, Attempt: c.Attempt,
		Status: string(c.Status), Error: c.Error, StartedAt: c.StartedAt, FinishedAt: c.FinishedAt}
	err = s.write(ctx, func() error {
		_, err := s.db.NewInsert().Model(row).Exec(ctx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("record delivery of run %s: %w", c.RunID, err)
	}
	return row.delivery(), nil
}

// DeliveryList implements store.DeliveryStore.
func (s *Store) DeliveryList(ctx context.Context, p *store.DeliveryListParams) ([]*store.Delivery, error) {
	if s.isClosed() {
		return nil, store.ErrClosed
	}
	if p == nil || p.RunID == "" {
		return nil, store.Invalid("run_id", "must not be empty")
	}
	if !validID(p.RunID) {
		return nil, nil
	}
	var rows []deliveryRow
	if err := s.db.NewSelect().Model(&rows).Where("run_id = ?", p.RunID).OrderExpr("id ASC").Scan(ctx); err != nil {
		return nil, fmt.Errorf("list deliveries of run %s: %w", p.RunID, translate(err))
	}
	out := make([]*store.Delivery, len(rows))
	for i := range rows {
		out[i] = rows[i].delivery()
	}
	return out, nil
}
