package store

import (
	"context"
	"time"
)

// Store is the whole persistence contract: a store implements every
// interface it embeds, and Herald's packages (the engine, the REST API,
// the backfill, the bundled server) rely on every one of them.
// Implementations are safe for concurrent use.
type Store interface {
	ScheduleStore
	ScheduleCapper
	RunStore
	StagedEnqueuer
	DeliveryOutbox
	EventStore
	DeliveryStore
	CursorStore
	MessageStore
	TokenStore
	WorkspaceStore
	StatsReader
	RunSummaryReader
	Notifier
	// Ping reports whether the store is reachable (ErrUnavailable if not).
	Ping(ctx context.Context) error
	// Close releases the store; it is safe to call twice.
	Close() error
}

// Limits a store enforces on input.
type Limits struct {
	// MaxPayload is the largest run payload, run output and event body, in
	// bytes; zero means MaxPayloadDefault.
	MaxPayload int
}

// MaxPayloadDefault is the default payload limit: 1 MiB.
const MaxPayloadDefault = 1 << 20

// WithDefaults returns l with zero fields set to their defaults.
func (l Limits) WithDefaults() Limits {
	if l.MaxPayload <= 0 {
		l.MaxPayload = MaxPayloadDefault
	}
	return l
}

// Timestamp returns t in UTC, truncated to the microsecond: the form every
// store keeps times in.
func Timestamp(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Microsecond)
}
