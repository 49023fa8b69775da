package bunstore

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/store/storekit"
)

// RunGet implements store.RunStore.
func (s *Store) RunGet(ctx context.Context, id string) (*store.Run, error) {
	if s.isClosed() {
		return nil, store.ErrClosed
	}
	if !validID(id) {
		return nil, fmt.Errorf("get run %s: %w", id, store.ErrNotFound)
	}
	row := new(runRow)
	if err := s.db.NewSelect().Model(row).Where("id = ?", id).Scan(ctx); err != nil {
		return nil, fmt.Errorf("get run %s: %w", id, translate(err))
	}
	return row.run(), nil
}

// write runs one write statement outside a transaction: on SQLite it
// queues behind this process's other writers, until ctx ends.
func (s *Store) write(ctx context.Context, fn func() error) error {
	if s.isClosed() {
		return store.ErrClosed
	}
	if !s.pg() {
		if err := s.lockWrites(ctx); err != nil {
			return err
		}
		defer s.unlockWrites()
	}
	return translate(fn())
}

// RunClaim implements store.RunStore. The claim is the whole of it: it
// writes nothing else and waits for no other lock than its runs', so a
// node knows its runs (and keeps their leases) from the moment they are
// its own. A schedule's LastRunAt is read from its runs (ScheduleGet).
//
// On PostgreSQL a claim starts its walk of the due runs at the oldest
// RunAt the store's previous claim took, not at the start of their index,
// which holds the entries of every run claimed since the last VACUUM. A
// write that makes a run due before that point lowers it when its
// notification reaches the store: a run committed behind runs already
// claimed is claimed as soon as that. Runs no notification tells of (a
// notification lost, say) are claimed, in RunAt order again, by the
// first claim a second or more after the last one that walked from the
// start.
func (s *Store) RunClaim(ctx context.Context, p *store.RunClaimParams) ([]*store.Run, error) {
	if err := storekit.CheckClaim(p); err != nil {
		return nil, err
	}
	// Room for the runs a busy node claims: grown by appends, the rows
	// cost twice their size (scanRunRows).
	rows := takeRunRows(min(p.Limit, 1000))
	var err error
	if s.pg() {
		floor, gen := s.floor.begin(time.Now())
		err = s.write(ctx, func() error {
			return s.scan(ctx, s.db, &rows, s.sql.RunClaim, p.Node, s.nowArg(), micros(p.Lease), p.Limit, floor)
		})
		if err != nil {
			// Runs it locked are free again, maybe before the floor.
			s.floor.lower(time.Time{})
		} else {
			s.floor.end(gen, oldestRunAt(rows))
		}
	} else {
		now := s.stamp()
		expires := store.Timestamp(now.Add(p.Lease))
		// The picked runs are read whole and claimed one by one, through
		// the primary key: SQLite's single writer needs no lock on them,
		// and this spares the temporary tables of IN and RETURNING.
		err = s.writeGrouped(ctx, func(ctx context.Context, tx bun.Tx) error {
			picked := make([]runRow, 0, min(p.Limit, 1000))
			if err := s.scan(ctx, tx, &picked, s.sql.RunClaimPick, now, p.Limit); err != nil {
				return err
			}
			args := make([][]any, len(picked))
			for i, r := range picked {
				args[i] = []any{p.Node, expires, now, r.RowID}
			}
			n, err := s.execEach(ctx, tx, s.sql.RunClaimOne, args)
			if err != nil {
				return err
			}
			rows = rows[:0]
			for i, r := range picked {
				if n[i] > 0 {
					r.Status, r.LeaseOwner, r.LeaseExpiresAt, r.StartedAt = string(store.RunRunning), p.Node, expires, now
					rows = append(rows, r)
				}
			}
			return nil
		})
	}
	if err != nil {
		return nil, fmt.Errorf("claim runs: %w", err)
	}
	slices.SortFunc(rows, func(a, b runRow) int {
		if c := a.RunAt.Compare(b.RunAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	claimed := runs(rows)
	giveRunRows(rows)
	return claimed, nil
}

// RunExtendLease implements store.RunStore. On PostgreSQL it waits for no
// lock: a run another transaction is writing at that moment (its node's
// finish, a cancellation) is skipped, and returned, when still held, with
// a zero LeaseExpiresAt (see store.RunLease). So no statement that locks
// runs can deadlock with an extension, whatever order it locks them in.
func (s *Store) RunExtendLease(ctx context.Context, p *store.RunExtendLeaseParams) ([]*store.RunLease, error) {
	if err := storekit.CheckExtendLease(p); err != nil {
		return nil, err
	}
	ids := validIDs(p.IDs)
	if len(ids) == 0 {
		return nil, nil
	}
	var rows []leaseRow
	err := s.write(ctx, func() error {
		return s.scan(ctx, s.db, &rows, s.sql.RunExtendLease, s.nowArg(), micros(p.Lease), s.listArg(ids), p.Node)
	})
	if err == nil && s.pg() && len(rows) < len(ids) {
		extended := make(map[string]bool, len(rows))
		for _, r := range rows {
			extended[r.ID] = true
		}
		var skipped []string
		for _, id := range ids {
			if !extended[id] {
				skipped = append(skipped, id)
			}
		}
		var held []leaseRow
		err = s.scan(ctx, s.db, &held, s.sql.RunLeaseHeld, skipped, p.Node)
		rows = append(rows, held...)
	}
	if err != nil {
		return nil, fmt.Errorf("extend leases: %w", translate(err))
	}
	out := make([]*store.RunLease, len(rows))
	for i, r := range rows {
		out[i] = &store.RunLease{ID: r.ID, LeaseExpiresAt: utc(r.LeaseExpiresAt), CancelRequested: r.CancelRequested}
	}
	return out, nil
}

// leaseRow is a lease RunExtendLease read.
type leaseRow struct {
	ID              string    `bun:"id"`
	LeaseExpiresAt  time.Time `bun:"lease_expires_at"`
	CancelRequested bool      `bun:"cancel_requested"`
}

// RunProgress implements store.RunStore.
func (s *Store) RunProgress(ctx context.Context, p *store.RunProgressParams) error {
	if p == nil || p.ID == "" || p.Node == "" {
		return store.Invalid("progress", "id and node must not be empty")
	}
	if !validID(p.ID) {
		return fmt.Errorf("record progress of run %s: %w", p.ID, &store.LeaseLostError{RunIDs: []string{p.ID}})
	}
	var n int64
	err := s.write(ctx, func() error {
		var err error
		n, err = s.exec(ctx, s.db, s.sql.RunProgress, nullable(marshalProgress(p.Progress)), p.ID, p.Node)
		return err
	})
	if err == nil && n == 0 {
		err = &store.LeaseLostError{RunIDs: []string{p.ID}}
	}
	if err != nil {
		return fmt.Errorf("record progress of run %s: %w", p.ID, err)
	}
	return nil
}

// RunFinish implements store.RunStore. The transitions are one statement
// (one per run on SQLite, in one transaction); when runs of schedules
// ended, a second transaction releases their next held runs (RunRescue
// repairs a release lost to a crash in between).
func (s *Store) RunFinish(ctx context.Context, params ...*store.RunFinishParams) ([]*store.Run, error) {
	ps, err := storekit.PrepareFinishBatch(params, s.limits)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(ps))
	vals := make([][]any, 0, len(ps))
	for i, p := range ps {
		ids[i] = p.ID
		if validID(p.ID) {
			vals = append(vals, []any{p.ID, p.Node, string(p.Status), nullable(string(p.Output)), nullable(p.Summary),
				nullable(marshalProgress(p.Progress)), p.Status == store.RunCancelled, nullable(p.Error),
				nullable(marshalTargets(p.Targets)), nullTime(p.DeliverAfter)})
		}
	}
	done, err := s.transition(ctx, s.sql.RunFinish, s.sql.RunFinishOne, vals, s.nowArg())
	if err != nil {
		return nil, fmt.Errorf("finish runs: %w", err)
	}
	defer giveRunRows(done)
	return inOrder(ids, done)
}

// RunRequeue implements store.RunStore.
func (s *Store) RunRequeue(ctx context.Context, params ...*store.RunRequeueParams) ([]*store.Run, error) {
	ps, err := storekit.PrepareRequeueBatch(params)
	if err != nil {
		return nil, err
	}
	now := s.nowArg()
	ids := make([]string, len(ps))
	vals := make([][]any, 0, len(ps))
	for i, c := range ps {
		ids[i] = c.ID
		if !validID(c.ID) {
			continue
		}
		// Due at RunAt plus Delay; without RunAt, Delay from now on the
		// store's clock (NULL: the database's).
		var base any = nullTime(c.RunAt)
		if c.RunAt.IsZero() && !s.dbClock {
			base = s.stamp()
		}
		inc := 0
		if c.NextAttempt {
			inc = 1
		}
		vals = append(vals, []any{c.ID, c.Node, base, micros(c.Delay), nullable(c.Error), inc, nullTime(c.DeliverAfter)})
	}
	done, err := s.transition(ctx, s.sql.RunRequeue, "", vals, now)
	if err != nil {
		return nil, fmt.Errorf("requeue runs: %w", err)
	}
	defer giveRunRows(done)
	if slices.ContainsFunc(done, func(r runRow) bool { return r.Status == string(store.RunQueued) }) {
		if err := s.announce(ctx, store.Notification{Topic: store.TopicRunDue}); err != nil {
			return nil, fmt.Errorf("requeue runs: %w", err)
		}
	}
	return inOrder(ids, done)
}

// transition moves running runs with q (run_finish or run_requeue), each
// run named by a row of vals: its id, the node that must hold it, then the
// statement's other values; now is the statement's last argument. Then it
// releases held runs of the schedules whose runs ended. PostgreSQL moves
// them in one statement, whose rows are one array per column (columns).
// SQLite updates them one by one through the primary key, in one
// transaction: its batch statement would need a temporary table for the
// rows, another for RETURNING and a statement journal, which cost more
// than the statements they save. On PostgreSQL, one, when given, moves a
// single run with plain parameters: arrays of one element cost their
// encoding and a plan made for an unnest of unknown length, and a node
// that is not busy moves its runs one at a time.
func (s *Store) transition(ctx context.Context, q, one string, vals [][]any, now any) ([]runRow, error) {
	if len(vals) == 0 {
		return nil, nil
	}
	var done []runRow
	var err error
	if s.pg() {
		done = takeRunRows(len(vals)) // room for them all (scanRunRows)
		args := append(columns(vals), now)
		if len(vals) == 1 && one != "" {
			q, args = one, append(vals[0], now)
		}
		err = s.write(ctx, func() error { return s.scan(ctx, s.db, &done, q, args...) })
	} else {
		err = s.writeGrouped(ctx, func(ctx context.Context, tx bun.Tx) error {
			var err error
			done, err = s.updateEach(ctx, tx, q, vals, 2, now)
			return err
		})
	}
	if err != nil {
		return nil, err
	}
	if !anyScheduleEnded(done) {
		return done, nil
	}
	err = s.tx(ctx, func(tx bun.Tx, out *outbox) error { return s.releaseAfter(ctx, tx, done, out) })
	return done, err
}

// columns turns rows of values into one array per column: the arguments of
// a PostgreSQL statement that reads a batch of rows with unnest, whose text
// does not grow with the batch. A column without a value (every row's is
// nil) is NULL rather than an array of NULLs: unnest reads a NULL array as
// an empty one and pads it with NULLs, and the array would cost its
// encoding here and its decoding in the database: a tenth of the time the
// database took to insert 1,000 enqueued runs, most of whose columns are
// empty, and a twenty-fifth of a finish's.
func columns(rows [][]any) []any {
	cols := make([]any, len(rows[0]))
	for c := range cols {
		col := make([]any, len(rows))
		empty := true
		for r, row := range rows {
			col[r] = row[c]
			empty = empty && row[c] == nil
		}
		if !empty {
			cols[c] = col
		}
	}
	return cols
}

func anyScheduleEnded(rows []runRow) bool {
	for _, r := range rows {
		if r.ScheduleID != "" && store.RunStatus(r.Status).Terminal() {
			return true
		}
	}
	return false
}

// RunRescue implements store.RunStore.
func (s *Store) RunRescue(ctx context.Context, p *store.RunRescueParams) ([]*store.Run, error) {
	limit := store.ListLimitMax
	if p != nil && p.Limit > 0 {
		limit = p.Limit
	}
	var deliverAfter any
	if p != nil && !p.DeliverAfter.IsZero() {
		deliverAfter = store.Timestamp(p.DeliverAfter)
	}
	var done []runRow
	if err := s.write(ctx, func() error { return s.scan(ctx, s.db, &done, s.sql.RunRescue, s.nowArg(), deliverAfter, limit) }); err != nil {
		return nil, fmt.Errorf("rescue runs: %w", err)
	}
	// The releases lock schedules: in a transaction of their own, once the
	// runs' locks are gone, since a tick locks a schedule before its runs.
	// A release lost in between is made by the safety net below, at the
	// next rescue.
	err := s.tx(ctx, func(tx bun.Tx, out *outbox) error {
		for _, r := range done {
			if r.Status == string(store.RunQueued) {
				out.add(store.Notification{Topic: store.TopicRunDue})
				break
			}
		}
		// The safety net: held runs whose schedule has nothing busy. The
		// held runs are found through their own index; the runs that keep
		// them held, through the active runs' index.
		var sids []string
		if err := s.scan(ctx, tx, &sids, s.sql.SchedulesHeldIdle); err != nil {
			return err
		}
		// With the schedules of the runs that ended: one release, whose
		// schedule locks are taken in one id order.
		for _, r := range done {
			if r.ScheduleID != "" && store.RunStatus(r.Status).Terminal() {
				sids = appendUnique(sids, r.ScheduleID)
			}
		}
		return s.releaseSchedules(ctx, tx, sids, out)
	})
	if err != nil {
		return nil, fmt.Errorf("rescue runs: %w", err)
	}
	return runs(done), nil
}

// RunCancel implements store.RunStore.
func (s *Store) RunCancel(ctx context.Context, p *store.RunCancelParams) (*store.Run, error) {
	if p == nil || p.ID == "" {
		return nil, store.Invalid("id", "must not be empty")
	}
	if !validID(p.ID) {
		return nil, fmt.Errorf("cancel run %s: %w", p.ID, store.ErrNotFound)
	}
	reason := p.Reason
	if reason == "" {
		reason = "cancelled"
	}
	var out *store.Run
	err := s.tx(ctx, func(tx bun.Tx, ob *outbox) error {
		row := new(runRow)
		if s.pg() {
			// A schedule's lock comes before its runs' (as in a tick's
			// transaction): the run's schedule is share-locked first, for
			// the release below, then the run. SQLite's writer lock
			// covers the database.
			if _, err := s.exec(ctx, tx, s.sql.ScheduleRunShareLock, p.ID); err != nil {
				return err
			}
		}
		q := tx.NewSelect().Model(row).Where("id = ?", p.ID)
		if lock := s.lockClause("UPDATE"); lock != "" {
			q = q.For(lock)
		}
		if err := q.Scan(ctx); err != nil {
			return translate(err)
		}
		switch store.RunStatus(row.Status) {
		case store.RunQueued:
			row.Status, row.Held, row.FinishedAt, row.Error = string(store.RunCancelled), false, s.stamp(), reason
			if _, err := tx.NewUpdate().Model(row).Column("status", "held", "finished_at", "error").WherePK().Exec(ctx); err != nil {
				return err
			}
			if err := s.releaseAfter(ctx, tx, []runRow{*row}, ob); err != nil {
				return err
			}
		case store.RunRunning:
			if !row.CancelRequested {
				row.CancelRequested, row.CancelReason = true, reason
				if _, err := tx.NewUpdate().Model(row).Column("cancel_requested", "cancel_reason").WherePK().Exec(ctx); err != nil {
					return err
				}
			}
			ob.add(store.Notification{Topic: store.TopicRunCancel, ID: row.ID})
		default:
			return fmt.Errorf("%w: run already %s", store.ErrConflict, row.Status)
		}
		out = row.run()
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cancel run %s: %w", p.ID, err)
	}
	return out, nil
}

// RunNextDue implements store.RunStore.
func (s *Store) RunNextDue(ctx context.Context) (time.Time, error) {
	if s.isClosed() {
		return time.Time{}, store.ErrClosed
	}
	var rows []runRow
	err := s.scan(ctx, s.db, &rows, s.sql.RunNextDue)
	if err != nil {
		return time.Time{}, fmt.Errorf("next due run: %w", translate(err))
	}
	if len(rows) == 0 {
		return time.Time{}, fmt.Errorf("next due run: %w", store.ErrNotFound)
	}
	return utc(rows[0].RunAt), nil
}

// RunDeleteFinished implements store.RunStore. It deletes up to
// pruneBatch runs per transaction; before it deletes the runs of a
// schedule, the schedule's last_run_at takes their latest start, which
// ScheduleGet would no longer find among its runs. The schedules are
// written one by one in id order, as every transaction that locks them.
func (s *Store) RunDeleteFinished(ctx context.Context, p *store.RunDeleteFinishedParams) (int, error) {
	if p == nil || p.OlderThan <= 0 {
		return 0, store.Invalid("older_than", "must be positive")
	}
	cutoff := s.stamp().Add(-p.OlderThan)
	total := 0
	for p.Limit == 0 || total < p.Limit {
		limit := pruneBatch
		if p.Limit > 0 {
			limit = min(limit, p.Limit-total)
		}
		var n int
		err := s.tx(ctx, func(tx bun.Tx, _ *outbox) error {
			var picked []struct {
				ID         string    `bun:"id"`
				ScheduleID string    `bun:"schedule_id"`
				StartedAt  time.Time `bun:"started_at"`
			}
			if err := s.scan(ctx, tx, &picked, s.sql.RunPrunePick, cutoff, limit); err != nil {
				return err
			}
			n = len(picked)
			if n == 0 {
				return nil
			}
			lastStart := map[string]time.Time{}
			ids := make([]string, n)
			for i, r := range picked {
				ids[i] = r.ID
				if r.ScheduleID != "" && r.StartedAt.After(lastStart[r.ScheduleID]) {
					lastStart[r.ScheduleID] = r.StartedAt
				}
			}
			sids := slices.Sorted(maps.Keys(lastStart))
			for _, sid := range sids {
				if _, err := s.exec(ctx, tx, s.sql.RunPruneKeepLast, lastStart[sid], sid); err != nil {
					return err
				}
			}
			_, err := s.exec(ctx, tx, s.sql.RunPruneDelete, s.listArg(ids))
			return err
		})
		if err != nil {
			return total, fmt.Errorf("delete finished runs: %w", err)
		}
		total += n
		if n < limit {
			break
		}
	}
	return total, nil
}

// pruneBatch bounds the runs one transaction of RunDeleteFinished deletes.
const pruneBatch = 1000

// releaseAfter releases the next held run of each schedule whose run in
// ended reached a terminal status.
func (s *Store) releaseAfter(ctx context.Context, tx bun.IDB, ended []runRow, out *outbox) error {
	var sids []string
	for _, r := range ended {
		if r.ScheduleID != "" && store.RunStatus(r.Status).Terminal() {
			sids = appendUnique(sids, r.ScheduleID)
		}
	}
	return s.releaseSchedules(ctx, tx, sids, out)
}

// releaseSchedules releases the next held run of each schedule of sids
// that has one and nothing busy. The schedules are share-locked first, in
// id order, as every transaction locks schedules before their runs.
func (s *Store) releaseSchedules(ctx context.Context, tx bun.IDB, sids []string, out *outbox) error {
	if len(sids) == 0 {
		return nil
	}
	slices.Sort(sids)
	if s.pg() { // SQLite's writer lock covers the database
		if _, err := s.exec(ctx, tx, s.sql.ScheduleShareLock, sids); err != nil {
			return err
		}
	}
	var withHeld []string
	if err := s.scan(ctx, tx, &withHeld, s.sql.SchedulesWithHeld, s.listArg(sids)); err != nil {
		return err
	}
	return s.releaseHeld(ctx, tx, withHeld, out)
}

// releaseHeld lets the oldest held run of each schedule go when nothing of
// the schedule is busy, schedule by schedule in id order.
func (s *Store) releaseHeld(ctx context.Context, tx bun.IDB, sids []string, out *outbox) error {
	slices.Sort(sids)
	for _, sid := range sids {
		n, err := s.exec(ctx, tx, s.sql.RunRelease, sid)
		if err != nil {
			return err
		}
		if n > 0 {
			out.add(store.Notification{Topic: store.TopicRunDue})
		}
	}
	return nil
}

// inOrder lines the changed rows up with the ids asked for: nil where an id
// was refused, with a *store.LeaseLostError naming the refused ones.
func inOrder(ids []string, done []runRow) ([]*store.Run, error) {
	out := make([]*store.Run, len(ids))
	// The runs mostly come back in the order asked for (PostgreSQL's
	// statements join their arrays' rows in order, SQLite's updates them
	// one by one): then no map is needed to line them up.
	if len(done) == len(ids) && slices.EqualFunc(done, ids, func(r runRow, id string) bool { return r.ID == id }) {
		for i := range done {
			out[i] = done[i].run()
		}
		return out, nil
	}
	byID := make(map[string]*runRow, len(done))
	for i := range done {
		byID[done[i].ID] = &done[i]
	}
	var lost []string
	for i, id := range ids {
		if r, ok := byID[id]; ok {
			out[i] = r.run()
			delete(byID, id) // a second entry for one run is refused
			continue
		}
		lost = append(lost, id)
	}
	if len(lost) > 0 {
		return out, &store.LeaseLostError{RunIDs: lost}
	}
	return out, nil
}

func validIDs(ids []string) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if validID(id) {
			out = append(out, id)
		}
	}
	return out
}

// nullable turns an empty string into NULL.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// RunDelivered implements store.DeliveryOutbox.
func (s *Store) RunDelivered(ctx context.Context, id string) error {
	if !validID(id) {
		return fmt.Errorf("run %s delivered: %w", id, store.ErrNotFound)
	}
	var ids []string
	err := s.write(ctx, func() error {
		return s.scan(ctx, s.db, &ids, s.sql.RunDelivered, id)
	})
	if err == nil && len(ids) == 0 {
		err = store.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("run %s delivered: %w", id, err)
	}
	return nil
}

// RunDeliveryClaim implements store.DeliveryOutbox.
func (s *Store) RunDeliveryClaim(ctx context.Context, p *store.RunDeliveryClaimParams) ([]*store.Run, error) {
	now := s.stamp()
	if err := storekit.CheckDeliveryClaim(p, now); err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	var rows []runRow
	err := s.write(ctx, func() error {
		return s.scan(ctx, s.db, &rows, s.sql.RunDeliveryClaim, store.Timestamp(p.Until), s.nowArg(), p.Limit)
	})
	if err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	return runs(rows), nil
}

// RunDeliveryExtend implements store.DeliveryOutbox.
func (s *Store) RunDeliveryExtend(ctx context.Context, p *store.RunDeliveryExtendParams) error {
	if err := storekit.CheckDeliveryExtend(p, s.stamp()); err != nil {
		return fmt.Errorf("extend deliveries: %w", err)
	}
	var ids []string
	for _, id := range p.IDs {
		if validID(id) {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	err := s.write(ctx, func() error {
		_, err := s.exec(ctx, s.db, s.sql.RunDeliveryExtend, store.Timestamp(p.Until), s.listArg(ids))
		return err
	})
	if err != nil {
		return fmt.Errorf("extend deliveries: %w", err)
	}
	return nil
}
