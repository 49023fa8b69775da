package memstore

import (
	"context"
	"fmt"

	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/store/storekit"
)

// DeliveryRecord implements store.DeliveryStore.
func (s *Store) DeliveryRecord(ctx context.Context, d *store.Delivery) (*store.Delivery, error) {
	now, err := s.begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("record delivery: %w", err)
	}
	defer s.mu.Unlock()
	c, err := storekit.PrepareDelivery(d, now)
	if err != nil {
		return nil, fmt.Errorf("record delivery: %w", err)
	}
	if _, ok := s.runs[c.RunID]; !ok {
		return nil, fmt.Errorf("record delivery: run %s: %w", c.RunID, store.ErrNotFound)
	}
	if c.ID, err = newID(); err != nil {
		return nil, fmt.Errorf("record delivery: %w", err)
	}
	s.deliveries[c.RunID] = append(s.deliveries[c.RunID], c)
	return cloneDelivery(c), nil
}

// DeliveryList implements store.DeliveryStore. A run without deliveries,
// or without a record at all, has an empty list.
func (s *Store) DeliveryList(ctx context.Context, params *store.DeliveryListParams) ([]*store.Delivery, error) {
	if _, err := s.begin(ctx); err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	defer s.mu.Unlock()
	if params == nil || params.RunID == "" {
		return nil, fmt.Errorf("list deliveries: %w", store.Invalid("run_id", "must not be empty"))
	}
	ds := s.deliveries[params.RunID]
	out := make([]*store.Delivery, len(ds))
	for i, d := range ds {
		out[i] = cloneDelivery(d)
	}
	return out, nil
}
