package store

import "context"

// Topic says what a notification is about.
type Topic string

// Notification topics.
const (
	// TopicSchedule: a schedule was created, changed or deleted. ID names
	// it, Version is its new version (on deletion, one more than its last),
	// Deleted is set on deletion.
	TopicSchedule Topic = "schedule"
	// TopicRunDue: runs were enqueued or requeued; idle workers should claim.
	TopicRunDue Topic = "run_due"
	// TopicRunCancel: cancellation of running run ID was requested.
	TopicRunCancel Topic = "run_cancel"
	// TopicResync: notifications were lost (a slow subscriber, a dropped
	// database connection); the subscriber must re-read the state it
	// watches.
	TopicResync Topic = "resync"
)

// Notification is a hint that state changed; the subscriber reads the store
// for the state itself.
type Notification struct {
	Topic   Topic
	ID      string
	Version int64
	Deleted bool
}

// Notifier publishes changes to subscribers: in process on memory, through
// LISTEN/NOTIFY on PostgreSQL, through a notification table that every
// handle polls on SQLite.
type Notifier interface {
	// Subscribe returns a channel of notifications, closed when ctx is done
	// or the store is closed. It returns once the subscription is live. A
	// change committed by any handle on the same database, in this process
	// or another, reaches every subscriber within one second. A subscriber that
	// falls behind receives TopicResync in place of what it missed; it is
	// never blocked on and never blocks the store.
	Subscribe(ctx context.Context) (<-chan Notification, error)
}
