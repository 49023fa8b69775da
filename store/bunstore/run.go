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
func (s *Store) RunClaim(ctx context.Context, p *store.RunClaimParams) ([]*store.Run, error) {
	if err := storekit.CheckClaim(p); err != nil {
		return nil, err
	}
	var rows []runRow
	var err error
	if s.pg() {
		now := s.nowArg()
		err = s.write(ctx, func() error {
			return s.scanNative(ctx, &rows, s.claimSQL(), p.Node, now, micros(p.Lease), now, now, p.Limit)
		})
	} else {
		now := s.clock()
		expires := store.Timestamp(now.Add(p.Lease))
		// The picked runs are read whole and claimed one by one, through
		// the primary key: SQLite's single writer needs no lock on them,
		// and this spares the temporary tables of IN and RETURNING.
		err = s.writeGrouped(ctx, func(ctx context.Context, tx bun.Tx) error {
			picked := make([]runRow, 0, min(p.Limit, 1000))
			if err := s.scanTx(ctx, tx, &picked, s.claimPick(claimPickSQLite), now, p.Limit); err != nil {
				return err
			}
			args := make([][]any, len(picked))
			for i, r := range picked {
				args[i] = []any{p.Node, expires, now, r.RowID}
			}
			n, err := s.execEach(ctx, tx, claimOneSQL, args)
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
	return runs(rows), nil
}

// claimSQL is the claim statement on PostgreSQL: its arguments are the
// node, nowArg and the lease in microseconds, nowArg (started_at), nowArg
// (the due time) and the limit. A claim commits without waiting for the
// write-ahead log to reach the disk: the statement turns
// synchronous_commit off for its own transaction, in the same round trip.
// A claim lost to a server crash leaves its runs queued, to be claimed
// again, and the finish of a run whose claim was lost is refused, so
// execution is at least once either way and a claim need not cost an
// fsync. Every other transition commits durably.
func (s *Store) claimSQL() string {
	return "WITH async AS MATERIALIZED (SELECT set_config('synchronous_commit', 'off', true)) " +
		s.updatePickedFrom("status = 'running', lease_owner = ?, lease_expires_at = "+s.nowPlusSQL()+", started_at = "+s.nowSQL(),
			"async", s.claimPick("id"))
}

// claimPick selects cols of the runs a claim takes, oldest due first.
func (s *Store) claimPick(cols string) string {
	return "SELECT " + cols + " FROM herald_runs WHERE status = 'queued' AND " + s.notHeld() + " AND run_at <= " + s.nowSQL() + " ORDER BY run_at, id LIMIT " + s.limitArg()
}

// claimPickSQLite are the columns a claim reads on SQLite: the whole run
// and its rowid, through which claimOneSQL finds it without a search of
// the primary key's index.
const claimPickSQLite = "rowid AS row_id, *"

// claimOneSQL claims one run on SQLite.
const claimOneSQL = "UPDATE herald_runs SET status = 'running', lease_owner = ?, lease_expires_at = ?, started_at = ? " +
	"WHERE rowid = ? AND status = 'queued'"

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
		return s.db.NewRaw("UPDATE herald_runs SET lease_expires_at = "+s.nowPlusSQL()+" WHERE "+
			s.updatePickedWhere("SELECT id FROM herald_runs WHERE id IN (?) AND status = 'running' AND lease_owner = ?")+
			" RETURNING id, lease_expires_at, cancel_requested",
			s.nowArg(), micros(p.Lease), bun.List(ids), p.Node).Scan(ctx, &rows)
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
		err = s.db.NewRaw("SELECT id, cancel_requested FROM herald_runs WHERE id IN (?) AND status = 'running' AND lease_owner = ?",
			bun.List(skipped), p.Node).Scan(ctx, &held)
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
		res, err := s.db.NewRaw("UPDATE herald_runs SET progress = ? WHERE id = ? AND status = 'running' AND lease_owner = ?",
			nullable(marshalProgress(p.Progress)), p.ID, p.Node).Exec(ctx)
		if err == nil {
			n, err = res.RowsAffected()
		}
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
	done, err := s.transition(ctx, finishSQL, vals, s.nowArg())
	if err != nil {
		return nil, fmt.Errorf("finish runs: %w", err)
	}
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
			base = s.clock()
		}
		inc := 0
		if c.NextAttempt {
			inc = 1
		}
		vals = append(vals, []any{c.ID, c.Node, base, micros(c.Delay), nullable(c.Error), inc, nullTime(c.DeliverAfter)})
	}
	done, err := s.transition(ctx, requeueSQL, vals, now)
	if err != nil {
		return nil, fmt.Errorf("requeue runs: %w", err)
	}
	if slices.ContainsFunc(done, func(r runRow) bool { return r.Status == string(store.RunQueued) }) {
		if err := s.announce(ctx, store.Notification{Topic: store.TopicRunDue}); err != nil {
			return nil, fmt.Errorf("requeue runs: %w", err)
		}
	}
	return inOrder(ids, done)
}

// transitionSQL moves running runs, each named by a row of values: its id,
// the node that must hold it, then cols.
type transitionSQL struct {
	// PostgreSQL: one statement per batch, which reads the rows as v and
	// the runs as r; row is a row's placeholders and set the SET list.
	cols, row, set string
	// SQLite: the statement of one run, whose placeholders take the
	// row's cols, the tail, then its id and node (updateEach).
	one string
}

var (
	// A run that ends cancelled takes the reason of its cancellation
	// request as its error, when it has one.
	finishSQL = transitionSQL{
		cols: "status, output, summary, progress, cancelled, error, targets, deliver_after",
		row:  "(?::uuid, ?, ?, ?, ?, ?, ?::boolean, ?, ?, ?::timestamptz)",
		set: "status = v.status, output = v.output::json, summary = v.summary, progress = COALESCE(v.progress::json, r.progress), " +
			"error = COALESCE(CASE WHEN v.cancelled THEN r.cancel_reason END, v.error), finished_at = COALESCE(?::timestamptz, now()), " +
			"targets = COALESCE(v.targets::json, r.targets), deliver_after = v.deliver_after",
		one: "UPDATE herald_runs SET status = ?, output = ?, summary = ?, progress = COALESCE(?, progress), " +
			"error = COALESCE(CASE WHEN ? THEN cancel_reason END, ?), " +
			"targets = COALESCE(?, targets), deliver_after = ?, finished_at = ?, lease_owner = NULL, lease_expires_at = NULL " +
			"WHERE id = ? AND status = 'running' AND lease_owner = ?",
	}
	// A run whose cancellation was requested ends cancelled instead, at
	// the time of the tail. The run is due delay (microseconds) after
	// run_at, or after the database's now() when run_at is NULL.
	requeueSQL = transitionSQL{
		cols: "run_at, delay, error, inc, deliver_after",
		row:  "(?::uuid, ?, ?::timestamptz, ?::bigint, ?, ?::integer, ?::timestamptz)",
		set: "status = CASE WHEN r.cancel_requested THEN 'cancelled' ELSE 'queued' END, " +
			"run_at = CASE WHEN r.cancel_requested THEN r.run_at " +
			"ELSE COALESCE(v.run_at, now()) + v.delay * interval '1 microsecond' END, " +
			"error = CASE WHEN r.cancel_requested THEN COALESCE(r.cancel_reason, 'cancelled') ELSE COALESCE(v.error, r.error) END, " +
			"attempt = CASE WHEN r.cancel_requested THEN r.attempt ELSE r.attempt + v.inc END, " +
			"deliver_after = CASE WHEN r.cancel_requested AND r.targets IS NOT NULL THEN v.deliver_after ELSE r.deliver_after END, " +
			"finished_at = CASE WHEN r.cancel_requested THEN COALESCE(?::timestamptz, now()) END",
		one: "UPDATE herald_runs SET status = CASE WHEN cancel_requested THEN 'cancelled' ELSE 'queued' END, " +
			"run_at = CASE WHEN cancel_requested THEN run_at ELSE ? + ? END, " +
			"error = CASE WHEN cancel_requested THEN COALESCE(cancel_reason, 'cancelled') ELSE COALESCE(?, error) END, " +
			"attempt = CASE WHEN cancel_requested THEN attempt ELSE attempt + ? END, " +
			"deliver_after = CASE WHEN cancel_requested AND targets IS NOT NULL THEN ? ELSE deliver_after END, " +
			"finished_at = CASE WHEN cancel_requested THEN ? END, lease_owner = NULL, lease_expires_at = NULL " +
			"WHERE id = ? AND status = 'running' AND lease_owner = ?",
	}
)

// transition runs t on the runs of vals, with tail the arguments after
// the rows', then releases held runs of the schedules whose runs ended.
// PostgreSQL takes up to 1,000 runs per statement (it allows 65,535
// parameters). SQLite updates them one by one through the primary key, in
// one transaction: its batch statement would need a temporary table for
// the rows, another for RETURNING and a statement journal, which cost more
// than the statements they save.
func (s *Store) transition(ctx context.Context, t transitionSQL, vals [][]any, tail ...any) ([]runRow, error) {
	if len(vals) == 0 {
		return nil, nil
	}
	var done []runRow
	if s.pg() {
		for chunk := range slices.Chunk(vals, 1000) {
			// The runs are locked in no set order: no statement that
			// waits for a run's lock holds another run this one waits
			// for (extensions skip locked runs, cancel_other waits for
			// none: cancelOthers).
			q := "WITH v(id, node, " + t.cols + ") AS (VALUES " + strings.Repeat(t.row+", ", len(chunk)-1) + t.row + ") " +
				"UPDATE herald_runs AS r SET " + t.set + ", lease_owner = NULL, lease_expires_at = NULL " +
				"FROM v WHERE r.id = v.id AND r.status = 'running' AND r.lease_owner = v.node RETURNING r.*"
			var rows []runRow
			err := s.write(ctx, func() error { return s.scanNative(ctx, &rows, q, append(slices.Concat(chunk...), tail...)...) })
			done = append(done, rows...)
			if err != nil {
				return done, err
			}
		}
	} else {
		err := s.writeGrouped(ctx, func(ctx context.Context, tx bun.Tx) error {
			var err error
			done, err = s.updateEach(ctx, tx, t.one, vals, 2, tail)
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	if !anyScheduleEnded(done) {
		return done, nil
	}
	err := s.tx(ctx, func(tx bun.Tx, out *outbox) error { return s.releaseAfter(ctx, tx, done, out) })
	return done, err
}

func anyScheduleEnded(rows []runRow) bool {
	for _, r := range rows {
		if r.ScheduleID != "" && store.RunStatus(r.Status).Terminal() {
			return true
		}
	}
	return false
}

// updatePicked updates, with set, the runs that pick selects, and returns
// them: on PostgreSQL the picked rows are locked and rows another claimer
// holds are skipped; SQLite's single writer needs neither. PostgreSQL gets
// the picked ids as an array, so that the update finds them through the
// primary key whatever plan the statement has: with IN, a generic plan
// joins the picked ids with a scan of the whole table.
func (s *Store) updatePicked(set, pick string) string {
	return s.updatePickedFrom(set, "", pick)
}

// updatePickedFrom is updatePicked with a FROM list, when from is not empty.
func (s *Store) updatePickedFrom(set, from, pick string) string {
	q := "UPDATE herald_runs SET " + set
	if from != "" {
		q += " FROM " + from
	}
	q += " WHERE " + s.updatePickedWhere(pick)
	if s.pg() {
		return q + " RETURNING herald_runs.*"
	}
	return q + " RETURNING *"
}

// updatePickedWhere is the condition of updatePicked.
func (s *Store) updatePickedWhere(pick string) string {
	if s.pg() {
		return "id = ANY(ARRAY(" + pick + " FOR UPDATE SKIP LOCKED))"
	}
	return "id IN (" + pick + ")"
}

// cast spells a cast where PostgreSQL cannot infer a type; SQLite needs none.
func (s *Store) cast(expr, typ string) string {
	if s.pg() {
		return expr + "::" + typ
	}
	return expr
}

// RunRescue implements store.RunStore.
func (s *Store) RunRescue(ctx context.Context, p *store.RunRescueParams) ([]*store.Run, error) {
	limit := store.ListLimitMax
	if p != nil && p.Limit > 0 {
		limit = p.Limit
	}
	now := s.nowArg()
	spent := "(cancel_requested OR attempt >= max_attempts)"
	set := "status = CASE WHEN cancel_requested THEN 'cancelled' WHEN attempt >= max_attempts THEN 'failed' ELSE 'queued' END, " +
		"attempt = CASE WHEN " + spent + " THEN attempt ELSE attempt + 1 END, " +
		"error = CASE WHEN cancel_requested THEN COALESCE(cancel_reason, 'cancelled') || '; lease expired on node ' || lease_owner ELSE 'lease expired on node ' || lease_owner END, " +
		"finished_at = CASE WHEN " + spent + " THEN " + s.nowSQL() + " ELSE NULL END, " +
		"run_at = CASE WHEN " + spent + " THEN run_at ELSE " + s.nowSQL() + " END, " +
		"lease_owner = NULL, lease_expires_at = NULL"
	args := []any{now, now}
	if p != nil && !p.DeliverAfter.IsZero() {
		set += ", deliver_after = CASE WHEN " + spent + " AND targets IS NOT NULL THEN " + s.timeArg() + " ELSE deliver_after END"
		args = append(args, store.Timestamp(p.DeliverAfter))
	}
	args = append(args, now, limit)
	q := s.updatePicked(set, "SELECT id FROM herald_runs WHERE status = 'running' AND lease_expires_at < "+s.nowSQL()+" ORDER BY lease_expires_at, id LIMIT ?")
	var done []runRow
	if err := s.write(ctx, func() error { return s.db.NewRaw(q, args...).Scan(ctx, &done) }); err != nil {
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
		if err := tx.NewRaw("SELECT DISTINCT h.schedule_id FROM herald_runs h WHERE h.status = 'queued' AND h."+s.isHeld()+
			" AND NOT EXISTS (SELECT 1 FROM "+s.activeTable("b")+
			" WHERE b.schedule_id = h.schedule_id AND b."+activeRuns+" AND (b.status = 'running' OR NOT b.held))").Scan(ctx, &sids); err != nil {
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
			// the release below, then the run.
			if _, err := tx.NewRaw("SELECT id FROM herald_schedules WHERE id = (SELECT schedule_id FROM herald_runs WHERE id = ?) FOR SHARE",
				p.ID).Exec(ctx); err != nil {
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
			row.Status, row.Held, row.FinishedAt, row.Error = string(store.RunCancelled), false, s.clock(), reason
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
	err := s.db.NewRaw("SELECT * FROM herald_runs WHERE status = 'queued' AND "+s.notHeld()+" ORDER BY run_at, id LIMIT 1").Scan(ctx, &rows)
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
	cutoff := s.clock().Add(-p.OlderThan)
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
			if err := tx.NewRaw(prunePickSQL, cutoff, limit).Scan(ctx, &picked); err != nil {
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
				if _, err := tx.NewRaw(keepLastRunSQL, lastStart[sid], sid, lastStart[sid]).Exec(ctx); err != nil {
					return err
				}
			}
			_, err := tx.NewRaw("DELETE FROM herald_runs WHERE id IN (?)", bun.List(ids)).Exec(ctx)
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

// prunePickSQL picks the runs RunDeleteFinished deletes: ended before the
// cutoff, their deliveries done, oldest first.
const prunePickSQL = "SELECT id, schedule_id, started_at FROM herald_runs " +
	"WHERE finished_at IS NOT NULL AND finished_at < ? AND deliver_after IS NULL ORDER BY finished_at LIMIT ?"

// keepLastRunSQL moves a schedule's last_run_at up to the latest start of
// runs about to be deleted.
const keepLastRunSQL = "UPDATE herald_schedules SET last_run_at = ? WHERE id = ? AND (last_run_at IS NULL OR last_run_at < ?)"

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
	if s.pg() {
		// A share lock on the schedules waits for any enqueue that is
		// deciding on them, so a run it holds back is seen below.
		if _, err := tx.NewRaw("SELECT id FROM herald_schedules WHERE id IN (?) ORDER BY id FOR SHARE", bun.List(sids)).Exec(ctx); err != nil {
			return err
		}
	}
	var withHeld []string
	if err := tx.NewRaw("SELECT DISTINCT schedule_id FROM "+s.activeTable("")+" WHERE schedule_id IN (?) AND "+activeRuns+
		" AND status = 'queued' AND "+s.isHeld(),
		bun.List(sids)).Scan(ctx, &withHeld); err != nil {
		return err
	}
	return s.releaseHeld(ctx, tx, withHeld, out)
}

// releaseHeld lets the oldest held run of each schedule go when nothing of
// the schedule is busy, schedule by schedule in id order.
func (s *Store) releaseHeld(ctx context.Context, tx bun.IDB, sids []string, out *outbox) error {
	slices.Sort(sids)
	for _, sid := range sids {
		res, err := tx.NewRaw("UPDATE herald_runs SET held = ? WHERE id = (SELECT id FROM "+s.activeTable("")+
			" WHERE schedule_id = ? AND "+activeRuns+" AND status = 'queued' AND "+s.isHeld()+" ORDER BY id LIMIT 1)"+
			" AND NOT EXISTS (SELECT 1 FROM "+s.activeTable("b")+" WHERE b.schedule_id = ? AND b."+activeRuns+
			" AND (b.status = 'running' OR NOT b.held))", false, sid, sid).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n > 0 {
			out.add(store.Notification{Topic: store.TopicRunDue})
		}
	}
	return nil
}

// limitArg is the LIMIT placeholder of a statement with driver-bound
// arguments, hidden from the planner in an expression it does not look
// into. SQLite re-prepares a statement each time the value bound to a bare
// "LIMIT ?" changes; PostgreSQL plans it anew for every call, as the plan
// for a known limit looks cheaper than the generic one, though it is the
// same plan and planning costs more than running it. A one-run claim costs
// about half the CPU either way.
func (s *Store) limitArg() string {
	if s.pg() {
		return "(SELECT ?::integer)"
	}
	return "(? + 0)"
}

// timeArg is a time placeholder where the dialect cannot infer the type.
func (s *Store) timeArg() string {
	if s.pg() {
		return "?::timestamptz"
	}
	return "?"
}

// activeRuns is the condition of herald_runs_active_idx, the runs of a
// schedule that are queued or running (ad hoc runs are left out). Every
// query that looks for a schedule's queued or running runs states it, with
// a condition on schedule_id that implies the index's schedule_id IS NOT
// NULL and its own condition on the status, so that the partial index can
// serve it: the alternative, the schedule's index of all its runs, grows
// with the schedule's history.
const activeRuns = "status IN ('queued', 'running')"

// activeTable names herald_runs (as alias, when given) for a query that
// states activeRuns. SQLite is told to use herald_runs_active_idx: without
// statistics its planner takes the schedule's index of all runs.
func (s *Store) activeTable(alias string) string {
	t := "herald_runs"
	if alias != "" {
		t += " AS " + alias
	}
	if !s.pg() {
		t += " INDEXED BY herald_runs_active_idx"
	}
	return t
}

func (s *Store) isHeld() string {
	if s.pg() {
		return "held"
	}
	return "held = 1"
}

// inOrder lines the changed rows up with the ids asked for: nil where an id
// was refused, with a *store.LeaseLostError naming the refused ones.
func inOrder(ids []string, done []runRow) ([]*store.Run, error) {
	byID := make(map[string]*runRow, len(done))
	for i := range done {
		byID[done[i].ID] = &done[i]
	}
	out := make([]*store.Run, len(ids))
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
		return s.scanNative(ctx, &ids, "UPDATE herald_runs SET deliver_after = NULL WHERE id = "+s.cast("?", "uuid")+" RETURNING id", id)
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
	now := s.clock()
	if err := storekit.CheckDeliveryClaim(p, now); err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	q := s.updatePicked("deliver_after = "+s.timeArg(),
		"SELECT id FROM herald_runs WHERE deliver_after IS NOT NULL AND deliver_after <= "+s.nowSQL()+" ORDER BY deliver_after, id LIMIT "+s.limitArg())
	var rows []runRow
	err := s.write(ctx, func() error { return s.scanNative(ctx, &rows, q, store.Timestamp(p.Until), s.nowArg(), p.Limit) })
	if err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	return runs(rows), nil
}

// RunDeliveryExtend implements store.DeliveryOutbox.
func (s *Store) RunDeliveryExtend(ctx context.Context, p *store.RunDeliveryExtendParams) error {
	if err := storekit.CheckDeliveryExtend(p, s.clock()); err != nil {
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
		_, err := s.db.NewRaw("UPDATE herald_runs SET deliver_after = "+s.timeArg()+" WHERE id IN (?) AND deliver_after IS NOT NULL",
			store.Timestamp(p.Until), bun.List(ids)).Exec(ctx)
		return err
	})
	if err != nil {
		return fmt.Errorf("extend deliveries: %w", err)
	}
	return nil
}
