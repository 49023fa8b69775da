package bunstore

import (
	"context"
	"fmt"
	"slices"

	"github.com/uptrace/bun"

	"github.com/heraldhq/herald/store"
)

// Group commit on SQLite. SQLite has one writer, and a commit writes the
// write-ahead log and waits for the disk: when workers claim and finish one
// run at a time, commits are much of the work. The hot writes (claims,
// finishes, requeues) therefore queue, and whoever takes the writer next
// runs every queued write in one transaction, with one commit. A write
// that waits for the writer may find that another caller's transaction
// has already done it.
//
// The writes of a group share their fate: none runs under a savepoint of
// its own. A savepoint copies every page its write changes into SQLite's
// statement journal and frees the copies at its release; that cost a
// grouped claim or finish a third of its time (BenchmarkClaimFinish,
// sqlite, batch=1, 32 callers: 4,400–4,600 runs/s with a savepoint per
// write, 7,500–8,600 without). So a write runs to its end once it has
// begun, whatever its caller's context does then. Its statements are the
// store's own, and its caller's values were checked before it queued
// (storekit's Check and Prepare helpers: times within years 1 to 9999,
// say), so it fails only when the database does: a full disk, an I/O
// error, a text past SQLite's length limit. When one does fail, the
// transaction rolls back and every write of the group that was not
// skipped returns that error, as when the commit fails. No write runs
// twice.

// groupWrite is one queued write and, once done is closed, its outcome.
type groupWrite struct {
	ctx  context.Context
	fn   func(ctx context.Context, tx bun.Tx) error
	err  error
	done chan struct{}
}

// lockWrites takes this process's SQLite writer, or returns ctx's error
// when ctx ends first, or store.ErrClosed when the store closes;
// unlockWrites gives the writer back.
func (s *Store) lockWrites(ctx context.Context) error {
	select {
	case s.writeSem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-s.closed:
		return store.ErrClosed
	}
}

func (s *Store) unlockWrites() { <-s.writeSem }

// writeGrouped runs fn once, in a write transaction on SQLite, together
// with the writes of the other callers waiting for the writer at the time.
// fn returns an error only for a failure of the database, which fails the
// whole group (see above); its context does not end while it runs. A
// caller whose context ends while its write waits gets that context's
// error, and the write does not run.
func (s *Store) writeGrouped(ctx context.Context, fn func(ctx context.Context, tx bun.Tx) error) error {
	if s.isClosed() {
		return store.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	w := &groupWrite{ctx: ctx, fn: fn, done: make(chan struct{})}
	s.groupMu.Lock()
	s.pending = append(s.pending, w)
	s.groupMu.Unlock()
	select {
	case <-w.done:
		return w.err
	case s.writeSem <- struct{}{}:
	case <-ctx.Done():
		if s.unqueue(w) {
			return ctx.Err()
		}
		// A writer has taken it: it skips the write, or runs it to its end.
		<-w.done
		return w.err
	}
	defer s.unlockWrites()
	select {
	case <-w.done: // the writer before this one took it
		return w.err
	default:
	}
	s.groupMu.Lock()
	batch := s.pending
	s.pending = nil
	s.groupMu.Unlock()
	s.writeGroup(batch)
	return w.err
}

// unqueue takes w out of the writes waiting for the next group, and
// reports whether it was still there.
func (s *Store) unqueue(w *groupWrite) bool {
	s.groupMu.Lock()
	defer s.groupMu.Unlock()
	i := slices.Index(s.pending, w)
	if i >= 0 {
		s.pending = slices.Delete(s.pending, i, i+1)
	}
	return i >= 0
}

// writeGroup runs each write of batch once, in one transaction, and sets
// its outcome. A write whose caller's context has ended by its turn is
// skipped with that context's error; the others run under a context that
// keeps their caller's values but not its end. When a write or the
// transaction fails (to begin, to commit), the transaction rolls back and
// every write of it that was not skipped fails with that error.
func (s *Store) writeGroup(batch []*groupWrite) {
	defer func() {
		// A write that panics rolls the transaction back: no write of the
		// group took effect, and none may be reported done.
		p := recover()
		for _, w := range batch {
			if p != nil && w.err == nil {
				w.err = fmt.Errorf("bunstore: a write of its group panicked: %v", p)
			}
			close(w.done)
		}
		if p != nil {
			panic(p)
		}
	}()
	err := s.db.RunInTx(context.Background(), nil, func(_ context.Context, tx bun.Tx) error {
		for _, w := range batch {
			if w.err = w.ctx.Err(); w.err != nil {
				continue
			}
			if err := w.fn(context.WithoutCancel(w.ctx), tx); err != nil {
				return err
			}
		}
		return nil
	})
	for _, w := range batch {
		if w.err == nil {
			w.err = err
		}
		w.err = translate(w.err)
	}
}

// updateEach runs q, which changes at most one run, once per row of vals
// in tx, and returns the runs that changed, as they are now. A row's first
// keys values name its run (the id first); q takes the row's other values,
// then now, then the keys: plain ? placeholders, which the driver binds
// faster than numbered ones.
func (s *Store) updateEach(ctx context.Context, tx bun.Tx, q string, vals [][]any, keys int, now any) ([]runRow, error) {
	args := make([][]any, len(vals))
	for i, v := range vals {
		args[i] = slices.Concat(v[keys:], []any{now}, v[:keys])
	}
	n, err := s.execEach(ctx, tx, q, args)
	if err != nil {
		return nil, err
	}
	var changed []string
	for i, v := range vals {
		if n[i] > 0 {
			changed = append(changed, v[0].(string))
		}
	}
	done := make([]runRow, 0, len(changed))
	switch len(changed) {
	case 0:
	case 1:
		err = s.scan(ctx, tx, &done, s.sql.RunByID, changed[0])
	default:
		err = s.scan(ctx, tx, &done, s.sql.RunsByID, s.listArg(changed))
	}
	return done, err
}
