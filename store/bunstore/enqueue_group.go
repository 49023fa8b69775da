package bunstore

import (
	"context"
	"fmt"
	"slices"

	"github.com/uptrace/bun"

	"github.com/heraldhq/herald/store"
)

// Group commit of plain enqueues. A plain enqueue (ad hoc runs without an
// idempotency key: nothing to look up, lock or decide) is one INSERT, and
// with many callers each enqueuing one run, most of its cost is its
// commit: on PostgreSQL a WAL flush, on SQLite the single writer. Callers
// that arrive while an insert is under way therefore queue, and the next
// inserter writes every queued run in one statement (on SQLite, one
// transaction), with one commit: with 32 callers on two cores this doubles
// (SQLite) or triples (PostgreSQL) the enqueues per second, and one
// caller alone waits for nothing. Should that fail, each caller
// inserts its own runs alone, so that a failure is only its own.

// plainInFlight bounds the plain inserts under way at once on PostgreSQL;
// callers beyond it queue and go in the next insert together. SQLite has
// one writer. One measured best: with two or four, batches are smaller and
// commits more, for fewer enqueues per second.
const plainInFlight = 1

// plainMaxRows bounds the runs of one grouped insert.
const plainMaxRows = 2000

// plainWrite is one caller's runs and, once done is closed, its outcome.
type plainWrite struct {
	ctx  context.Context
	rows []runRow
	err  error
	done chan struct{}
}

// insertPlain inserts rows, grouped with those of concurrent callers, and
// sets their RunAt as the database gave it.
func (s *Store) insertPlain(ctx context.Context, rows []runRow) error {
	if s.isClosed() {
		return store.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	w := &plainWrite{ctx: ctx, rows: rows, done: make(chan struct{})}
	s.plainMu.Lock()
	s.plainPending = append(s.plainPending, w)
	s.plainMu.Unlock()
	sem := s.plainSem
	if !s.pg() {
		sem = s.writeSem
	}
	select {
	case <-w.done:
		return w.err
	case sem <- struct{}{}:
	}
	defer func() { <-sem }()
	for {
		select {
		case <-w.done: // an inserter before this one took it
			return w.err
		default:
		}
		s.plainMu.Lock()
		n, total := 0, 0
		for n < len(s.plainPending) && (n == 0 || total+len(s.plainPending[n].rows) <= plainMaxRows) {
			total += len(s.plainPending[n].rows)
			n++
		}
		batch := slices.Clone(s.plainPending[:n])
		s.plainPending = slices.Delete(s.plainPending, 0, n)
		s.plainMu.Unlock()
		s.insertPlainBatch(batch)
	}
}

// insertPlainBatch inserts the runs of batch together, or, when that
// fails, each write's alone, and closes each write's done.
func (s *Store) insertPlainBatch(batch []*plainWrite) {
	defer func() {
		for _, w := range batch {
			close(w.done)
		}
	}()
	live := batch[:0:0]
	for _, w := range batch {
		if w.err = w.ctx.Err(); w.err == nil {
			live = append(live, w)
		}
	}
	if len(live) > 1 {
		var rows []runRow
		for _, w := range live {
			rows = append(rows, w.rows...)
		}
		// The statement outlives any one caller's context.
		if err := s.insertPlainRows(context.Background(), rows); err == nil {
			at := 0
			for _, w := range live {
				copy(w.rows, rows[at:at+len(w.rows)])
				at += len(w.rows)
			}
			return
		}
	}
	for _, w := range live {
		w.err = s.insertPlainRows(w.ctx, w.rows)
	}
}

// insertPlainRows inserts rows in one statement (PostgreSQL) or one
// transaction (SQLite), and commits.
func (s *Store) insertPlainRows(ctx context.Context, rows []runRow) error {
	if !s.pg() {
		// The notification row that wakes other processes' workers is
		// written in the transaction, as every SQLite write's is.
		due := &outbox{notes: []store.Notification{{Topic: store.TopicRunDue}}}
		return translate(s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			ids, err := s.insertRuns(ctx, tx, rows, 0)
			if err == nil && len(ids) != len(rows) {
				err = fmt.Errorf("%w: inserted %d of %d runs", store.ErrConflict, len(ids), len(rows))
			}
			if err != nil {
				return err
			}
			return s.sendNotifications(ctx, tx, due, s.origin)
		}))
	}
	q, args := s.insertPG(rows, 0)
	r, err := s.query(ctx, s.db, q, args...)
	if err != nil {
		return translate(err)
	}
	got, err := scanInserted(r, len(rows))
	if err != nil {
		return translate(err)
	}
	if len(got) != len(rows) {
		return fmt.Errorf("%w: inserted %d of %d runs", store.ErrConflict, len(got), len(rows))
	}
	setInserted(rows, got)
	return nil
}
