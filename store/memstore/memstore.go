// Package memstore is a complete, concurrency-safe store.Store that keeps
// everything in the memory of one process.
//
// Import it in tests and examples, or wherever Herald's data need not outlive
// the process: it needs no set-up, applies the same validation and overlap
// rules as the database stores, and passes the same conformance suite
// (store/storetest). Several goroutines may share one Store; several
// processes cannot, so use store/bunstore for anything durable or shared.
package memstore

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/heraldhq/herald/clock"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/store/internal/notify"
	"github.com/heraldhq/herald/store/internal/uuid7"
)

// Options configures a Store. The zero value is ready to use.
type Options struct {
	// Clock is the store's clock; nil means clock.System. Every time the
	// store records comes from it, and the scheduler reads it (Clock).
	Clock clock.Clock
	// Limits bounds input; zero fields mean the defaults of store.Limits.
	Limits store.Limits
}

// Store is an in-memory store.Store. Create it with New; it is safe for
// concurrent use. Records go in and come out as copies: a caller never
// shares memory with the store.
type Store struct {
	clock  clock.Clock
	limits store.Limits
	hub    *notify.Hub
	ids    uuid7.Generator // the ids of runs and events, from their creation times

	mu            sync.Mutex // guards everything below
	closed        bool
	schedules     map[string]*store.Schedule
	scheduleNames map[ownerKey]string // (owner, name) → schedule id
	runs          map[string]*store.Run
	scheduleRuns  map[string]map[string]*store.Run // schedule id → its runs, by id
	due           dueQueue                         // claimable runs by (RunAt, ID); may hold stale entries
	ticks         map[tickKey]string               // (schedule id, tick) → run id
	idempotency   map[ownerKey]string              // (owner, idempotency key) → run id
	events        map[string]*store.Event
	eventKeys     map[eventKey]string          // (source, delivery id) → event id
	deliveries    map[string][]*store.Delivery // run id → attempts, in order
	outbox        map[string]*store.Run        // runs with a DeliverAfter, by id
	cursors       map[store.CursorKey]*store.Cursor
	messages      map[store.CursorKey]map[string]*store.Message // channel → ts → message
	tokens        map[string]*store.Token                       // by name
	workspaces    map[string]*store.Workspace                   // by id
}

var _ store.Store = (*Store)(nil)

type ownerKey struct{ owner, name string }

type tickKey struct {
	schedule string
	at       int64 // UnixMicro of the tick
}

type eventKey struct{ source, delivery string }

// New returns an empty store.
func New(opts Options) *Store {
	return &Store{
		clock:         clock.OrSystem(opts.Clock),
		limits:        opts.Limits.WithDefaults(),
		hub:           notify.New(0),
		schedules:     make(map[string]*store.Schedule),
		scheduleNames: make(map[ownerKey]string),
		runs:          make(map[string]*store.Run),
		scheduleRuns:  make(map[string]map[string]*store.Run),
		ticks:         make(map[tickKey]string),
		idempotency:   make(map[ownerKey]string),
		events:        make(map[string]*store.Event),
		eventKeys:     make(map[eventKey]string),
		deliveries:    make(map[string][]*store.Delivery),
		outbox:        make(map[string]*store.Run),
		cursors:       make(map[store.CursorKey]*store.Cursor),
		messages:      make(map[store.CursorKey]map[string]*store.Message),
		tokens:        make(map[string]*store.Token),
		workspaces:    make(map[string]*store.Workspace),
	}
}

// begin locks the store for one operation and returns the operation's time.
// On success the caller must unlock s.mu.
func (s *Store) begin(ctx context.Context) (time.Time, error) {
	if err := ctx.Err(); err != nil {
		return time.Time{}, err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return time.Time{}, store.ErrClosed
	}
	return store.Timestamp(s.clock.Now()), nil
}

// Clock implements store.Store: the clock of Options, or clock.System.
func (s *Store) Clock() clock.Clock { return s.clock }

// Limits implements store.Store: the limits of Options, defaults applied.
func (s *Store) Limits() store.Limits { return s.limits }

// Ping implements store.Store: nil while the store is open, ErrClosed after.
func (s *Store) Ping(ctx context.Context) error {
	if _, err := s.begin(ctx); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	s.mu.Unlock()
	return nil
}

// Close implements store.Store. It ends every subscription; every later call
// returns store.ErrClosed. It is safe to call twice.
func (s *Store) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.hub.Close()
	return nil
}

// Subscribe implements store.Notifier. Notifications are published in the
// order of the changes that cause them.
func (s *Store) Subscribe(ctx context.Context) (<-chan store.Notification, error) {
	if _, err := s.begin(ctx); err != nil {
		return nil, fmt.Errorf("subscribe: %w", err)
	}
	defer s.mu.Unlock()
	ch, err := s.hub.Subscribe(ctx)
	if err != nil {
		return nil, fmt.Errorf("subscribe: %w", err)
	}
	return ch, nil
}

// effects collects the notifications of one operation, published while the
// lock is still held so that subscribers see changes in order.
type effects struct {
	runDue  bool
	cancels []string
}

func (s *Store) publish(fx *effects) {
	for _, id := range fx.cancels {
		s.hub.Publish(store.Notification{Topic: store.TopicRunCancel, ID: id})
	}
	if fx.runDue {
		s.hub.Publish(store.Notification{Topic: store.TopicRunDue})
	}
}

// newID returns a fresh UUIDv7 string: the id of a schedule or a
// delivery (those of runs and events come from Store.ids, which derives
// them from their creation times). It is made before anything is written,
// so a failure leaves the store untouched.
func newID() (string, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return "", fmt.Errorf("new id: %w", err)
	}
	return id.String(), nil
}
