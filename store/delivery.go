package store

import (
	"context"
	"time"
)

// DeliveryStatus is the outcome of one delivery attempt.
type DeliveryStatus string

// Delivery statuses.
const (
	// DeliverySucceeded: the receiver took the result.
	DeliverySucceeded DeliveryStatus = "succeeded"
	// DeliveryRetrying: the attempt failed and another will follow.
	DeliveryRetrying DeliveryStatus = "retrying"
	// DeliveryFailed: the attempt failed and was the last.
	DeliveryFailed DeliveryStatus = "failed"
)

// Delivery records one attempt to deliver a run's result to one target.
type Delivery struct {
	// ID is a UUIDv7 string, assigned by the store.
	ID string
	// RunID is the run delivered. Required; the run must exist.
	RunID string
	// Channel and To are the target. Channel is required.
	Channel string
	To      string
	// Attempt is the 1-based attempt number for this target; at least 1.
	Attempt int
	// Status is the attempt's outcome. Required.
	Status DeliveryStatus
	// Error says why the attempt failed.
	Error string
	// StartedAt and FinishedAt time the attempt; zero means now.
	StartedAt  time.Time
	FinishedAt time.Time
}

// DeliveryListParams selects deliveries.
type DeliveryListParams struct {
	// RunID is the run whose deliveries are listed. Required.
	RunID string
}

// DeliveryStore records delivery attempts.
type DeliveryStore interface {
	// DeliveryRecord validates and inserts d and returns the stored record.
	// A missing run is ErrNotFound.
	DeliveryRecord(ctx context.Context, d *Delivery) (*Delivery, error)
	// DeliveryList returns a run's attempts in the order they were recorded.
	DeliveryList(ctx context.Context, params *DeliveryListParams) ([]*Delivery, error)
}
