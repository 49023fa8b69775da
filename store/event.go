package store

import (
	"context"
	"time"
)

// Event is a verified inbound webhook delivery.
type Event struct {
	// ID is a UUIDv7 string.
	ID string
	// Source is the webhook source's name.
	Source string
	// DeliveryID identifies the delivery; (Source, DeliveryID) is unique.
	DeliveryID string
	// Headers holds the request headers the source chose to keep.
	Headers map[string][]string
	// Body is the raw request body.
	Body []byte
	// RunID is the run the event started.
	RunID string
	// Owner is the owner of that run, kept with the event so that an
	// owner's events are found without the run (whose history may have
	// been pruned).
	Owner string
	// ReceivedAt is when the store accepted the event.
	ReceivedAt time.Time
}

// EventAcceptParams is a verified webhook delivery and the run it asks for.
type EventAcceptParams struct {
	// Source is required, at most 63 bytes.
	Source string
	// DeliveryID is required, at most 200 bytes.
	DeliveryID string
	// Headers are kept with the event.
	Headers map[string][]string
	// Body is kept with the event; within the store's payload limit.
	Body []byte
	// Run is the run to enqueue; its Kind is set to webhook, and its
	// ScheduleID, ScheduledFor and IdempotencyKey must be empty (the
	// delivery is the key).
	Run RunEnqueueParams
}

// EventAcceptResult is the outcome of EventAccept.
type EventAcceptResult struct {
	Event *Event
	Run   *Run
	// Duplicate is set when (Source, DeliveryID) was already accepted:
	// Event and Run are the original ones and nothing was written (Run is
	// nil when the history of the original run was pruned).
	Duplicate bool
}

// EventListParams selects events for EventList.
type EventListParams struct {
	// Source, when set, keeps that source's events only.
	Source string
	// Owner, when set, keeps the events whose run that owner owns.
	Owner string
	// ReceivedFrom (inclusive) and ReceivedTo (exclusive), when set, bound
	// ReceivedAt.
	ReceivedFrom time.Time
	ReceivedTo   time.Time
	// Cursor continues a listing: pass the Next of the previous page.
	Cursor string
	// Limit caps the page size: zero means ListLimitDefault, and it is at
	// most ListLimitMax.
	Limit int
}

// EventPage is one page of events, newest first (descending ID).
type EventPage struct {
	Events []*Event
	// Next is the cursor of the next page; empty on the last page.
	Next string
}

// EventStore keeps webhook events.
type EventStore interface {
	// EventAccept records the event and enqueues its run in one transaction,
	// deduplicated on (Source, DeliveryID).
	EventAccept(ctx context.Context, params *EventAcceptParams) (*EventAcceptResult, error)
	// EventGet returns the event, or ErrNotFound.
	EventGet(ctx context.Context, id string) (*Event, error)
	// EventList returns one page of events.
	EventList(ctx context.Context, params *EventListParams) (*EventPage, error)
}
