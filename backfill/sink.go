package backfill

import (
	"context"

	"github.com/heraldhq/herald/store"
)

// Sink receives the collected messages, a page at a time. Writes must be
// idempotent, keyed by (Source, Workspace, Channel, TS): after a crash the
// agent writes a page again, and the next run may bring a message again
// (edited). The agent saves a channel's cursor only once the Sink accepted
// the page, so a Sink that fails loses nothing: the page is read again.
type Sink interface {
	// Put writes msgs and returns how many of them were new.
	Put(ctx context.Context, msgs []*store.Message) (int, error)
}

// SinkFunc adapts a function to Sink.
type SinkFunc func(ctx context.Context, msgs []*store.Message) (int, error)

// Put implements Sink.
func (f SinkFunc) Put(ctx context.Context, msgs []*store.Message) (int, error) { return f(ctx, msgs) }

// StoreSink is the default Sink: the store's MessageStore, one
// transaction per page.
func StoreSink(ms store.MessageStore) Sink {
	return SinkFunc(func(ctx context.Context, msgs []*store.Message) (int, error) {
		if len(msgs) == 0 {
			return 0, nil
		}
		return ms.MessageUpsert(ctx, msgs...)
	})
}
