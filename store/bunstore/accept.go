package bunstore

import (
	"context"
	"time"

	"github.com/uptrace/bun"

	"github.com/heraldhq/herald/store"
)

// SQLite commits one write transaction at a time, each with an fsync, so a
// webhook per transaction caps ingestion at the disk's commit rate. The
// plain event accepts of concurrent callers are therefore written in
// shared transactions (group commit) by one goroutine per store: each
// batch holds the callers that were waiting when the previous one
// committed, up to maxAcceptBatch, and nobody waits for a batch to fill.
const (
	// maxAcceptBatch bounds the events of one transaction.
	maxAcceptBatch = 256
	// acceptTimeout bounds one batch's transaction.
	acceptTimeout = 30 * time.Second
)

// acceptReq is a plain event accept handed to the batch writer.
type acceptReq struct {
	ctx             context.Context
	ev              *eventRow
	evArgs, runArgs []any
	due             bool
	done            chan acceptDone // buffered: the writer never blocks
}

// acceptDone is the outcome of an acceptReq: dup is set when the event
// was delivered before.
type acceptDone struct {
	dup *store.EventAcceptResult
	err error
}

// acceptBatched hands r to the batch writer and waits for the outcome.
// Until the writer has taken r, ctx can still call it off, and nothing is
// written.
func (s *Store) acceptBatched(r *acceptReq) (*store.EventAcceptResult, error) {
	select {
	case s.acceptCh <- r:
	case <-s.acceptStopped:
		return nil, store.ErrClosed
	case <-r.ctx.Done():
		return nil, r.ctx.Err()
	}
	d := <-r.done
	return d.dup, d.err
}

// acceptLoop is the batch writer.
func (s *Store) acceptLoop() {
	defer s.bg.Done()
	defer close(s.acceptStopped)
	for {
		var first *acceptReq
		select {
		case first = <-s.acceptCh:
		case <-s.closed:
			return
		}
		batch := []*acceptReq{first}
	collect:
		for len(batch) < maxAcceptBatch {
			select {
			case r := <-s.acceptCh:
				batch = append(batch, r)
			default:
				break collect
			}
		}
		s.acceptBatch(batch)
	}
}

// acceptBatch writes batch in one transaction and answers each request.
// When the transaction fails, each request is tried alone, so that one
// request's failure is its own.
func (s *Store) acceptBatch(batch []*acceptReq) {
	live := make([]*acceptReq, 0, len(batch))
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.done <- acceptDone{err: err}
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), acceptTimeout)
	defer cancel()
	dups := make([]*store.EventAcceptResult, len(live))
	err := s.tx(ctx, func(tx bun.Tx, out *outbox) error {
		for i, r := range live {
			dup, err := s.acceptOne(ctx, tx, r)
			if err != nil {
				return err
			}
			dups[i] = dup
			if dup == nil && r.due {
				out.add(store.Notification{Topic: store.TopicRunDue})
			}
		}
		return nil
	})
	if err != nil && len(live) > 1 {
		for _, r := range live {
			s.acceptBatch([]*acceptReq{r})
		}
		return
	}
	for i, r := range live {
		r.done <- acceptDone{dup: dups[i], err: err}
	}
}

// acceptOne writes r's event and run in tx, or returns the original event
// and run when the event was delivered before (earlier in the same batch
// included).
func (s *Store) acceptOne(ctx context.Context, tx bun.Tx, r *acceptReq) (*store.EventAcceptResult, error) {
	var ids []string
	if err := s.scanTx(ctx, tx, &ids, acceptEventSQL, r.evArgs...); err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return s.acceptedBefore(ctx, tx, r.ev.Source, r.ev.DeliveryID)
	}
	return nil, s.execTx(ctx, tx, acceptRunSQL, r.runArgs...)
}
