package store

import (
	"context"
	"time"

	"github.com/heraldhq/herald/clock"
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
	SettingsReader
	// Ping reports whether the store is reachable (ErrUnavailable if not).
	Ping(ctx context.Context) error
	// Close releases the store; it is safe to call twice.
	Close() error
}

// SettingsReader reads back what a store was configured with. The
// scheduler takes its clock and its limits from the store it is given,
// so that the two are configured once and cannot disagree.
type SettingsReader interface {
	// Clock returns the clock the store was given, or clock.System when it
	// was given none. It is the clock of the stamps the store writes
	// itself; a store that takes the "now" of a run's life from its
	// database (see RunStore) says so in its documentation.
	Clock() clock.Clock
	// Limits returns the limits the store enforces, its defaults applied
	// (so MaxPayload is never zero).
	Limits() Limits
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
