package bunstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/store/internal/overlap"
	"github.com/heraldhq/herald/store/storekit"
)

// RunEnqueue implements store.RunStore.
func (s *Store) RunEnqueue(ctx context.Context, params ...*store.RunEnqueueParams) ([]*store.EnqueueResult, error) {
	return s.RunEnqueueStaged(ctx, nil, nil, params...)
}

// RunEnqueueStaged implements store.StagedEnqueuer; a nil release commits
// at once, as RunEnqueue does.
func (s *Store) RunEnqueueStaged(ctx context.Context, release func(context.Context) error, claim *store.RunClaimParams, params ...*store.RunEnqueueParams) ([]*store.EnqueueResult, error) {
	ps, err := storekit.PrepareEnqueueBatch(params, s.limits)
	if err == nil {
		err = storekit.CheckStagedClaim(claim)
	}
	if err != nil {
		return nil, err
	}
	var res []*store.EnqueueResult
	if plainBatch(ps) && release == nil {
		res, err = s.enqueuePlain(ctx, ps)
	} else {
		var fired map[string]firedTick
		err = s.tx(ctx, func(tx bun.Tx, out *outbox) error {
			res, fired, err = s.enqueueRuns(ctx, tx, ps, out, nil, claim)
			switch {
			case err != nil:
				return err
			case release != nil:
				// Everything but the commit is done before the moment.
				if err := s.notifyNow(ctx, tx, out); err != nil {
					return err
				}
				return release(ctx)
			}
			return s.advanceLastFired(ctx, tx, fired)
		})
		if err == nil && release != nil && len(fired) > 0 {
			// Staged runs commit at their moment without having written
			// their schedules' rows, so that neither the commit nor a
			// pause or an edit meanwhile waits for that (lockSchedules):
			// the last fired ticks follow in a transaction of their own,
			// after the call returns, so that the caller learns of the
			// commit when it happens. Should it fail, a LastFiredAt lags
			// its runs, and the ticks it lags by are written again as
			// duplicates, which changes nothing.
			// It is written in parts (firedPart schedules each), a
			// transaction each, so that the claims of the runs just
			// committed wait for one part at most, not for the whole
			// (on SQLite, whose writer the claims need too).
			s.after(func() {
				actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
				defer cancel()
				for _, part := range splitFired(fired, firedPart) {
					_ = s.tx(actx, func(tx bun.Tx, _ *outbox) error { return s.advanceLastFired(actx, tx, part) })
				}
			})
		}
	}
	if err != nil {
		return nil, fmt.Errorf("enqueue runs: %w", err)
	}
	return res, nil
}

// plainBatch reports whether ps are ad hoc runs without idempotency keys:
// nothing to look up, lock or decide, so no duplicates are possible.
func plainBatch(ps []*store.RunEnqueueParams) bool {
	for _, p := range ps {
		if p.ScheduleID != "" || p.IdempotencyKey != "" {
			return false
		}
	}
	return true
}

// enqueuePlain inserts a plain batch, grouped with the plain batches of
// concurrent callers (insertPlain): on PostgreSQL in one statement, one
// round trip instead of three (BEGIN, INSERT, COMMIT). The notification
// that wakes other processes' workers is sent after the commit, by the
// run-due notifier (kickDue): a NOTIFY in the statement would serialize
// the commits of concurrent enqueues on PostgreSQL's notification lock.
func (s *Store) enqueuePlain(ctx context.Context, ps []*store.RunEnqueueParams) ([]*store.EnqueueResult, error) {
	now := s.stamp()
	rows := takeRunRows(len(ps))[:len(ps)]
	for i, p := range ps {
		rows[i] = s.newRunRow(p, now)
	}
	if err := s.insertPlain(ctx, rows); err != nil {
		return nil, err
	}
	out := &outbox{notes: []store.Notification{{Topic: store.TopicRunDue}}, dueFrom: oldestRunAt(rows)}
	s.publish(out)
	s.kickDue(out)
	res := make([]*store.EnqueueResult, len(rows))
	for i := range rows {
		res[i] = &store.EnqueueResult{Run: rows[i].run()}
	}
	giveRunRows(rows)
	return res, nil
}

// insertedRun is a run run_insert or run_insert_many wrote: its id, the
// RunAt it was given (the database's now() where the row had none) and its
// lease's expiry (set by the database for a staged tick claimed as it
// commits).
type insertedRun struct {
	ID             string
	RunAt          time.Time
	LeaseExpiresAt sql.NullTime
	Status         string
}

// scanInserted reads the rows of run_insert or run_insert_many (id, run_at,
// lease_expires_at, status) and closes them: by hand, as bun's scan into structs
// costs more than the insert of a hundred runs.
func scanInserted(rows *sql.Rows, n int) ([]insertedRun, error) {
	defer rows.Close()
	got := make([]insertedRun, 0, n)
	for rows.Next() {
		var r insertedRun
		if err := rows.Scan(&r.ID, &r.RunAt, &r.LeaseExpiresAt, &r.Status); err != nil {
			return nil, err
		}
		got = append(got, r)
	}
	return got, rows.Err()
}

// setInserted gives the rows the RunAt and lease expiry the database gave
// them, and the status: a claimed row that the database wrote queued
// (insertPG) is queued, unclaimed.
func setInserted(rows []runRow, got []insertedRun) {
	at := make(map[string]*insertedRun, len(got))
	for i := range got {
		at[got[i].ID] = &got[i]
	}
	for i := range rows {
		if g := at[rows[i].ID]; g != nil {
			rows[i].RunAt = g.RunAt
			if g.LeaseExpiresAt.Valid {
				rows[i].LeaseExpiresAt = g.LeaseExpiresAt.Time
			}
			if g.Status != rows[i].Status {
				rows[i].Status, rows[i].LeaseOwner, rows[i].StartedAt = g.Status, "", time.Time{}
			}
		}
	}
}

// newRunRow is the row of a new queued run created at now, whose id
// carries now (uuid7), due at once (on the store's clock) when p sets no
// RunAt: on the database's clock its RunAt stays zero, which run_insert
// writes as now().
func (s *Store) newRunRow(p *store.RunEnqueueParams, now time.Time) runRow {
	row := runRow{
		ID: s.ids.New(now), Kind: string(p.Kind), ScheduleID: p.ScheduleID, ScheduledFor: p.ScheduledFor,
		Owner: p.Owner, Agent: p.Agent, Payload: string(p.Payload), Targets: marshalTargets(p.Targets),
		IdempotencyKey: p.IdempotencyKey, Status: string(store.RunQueued), Attempt: 1,
		MaxAttempts: p.MaxAttempts, Timeout: p.Timeout, RunAt: p.RunAt, CreatedAt: now,
		TraceContext: marshalTraceContext(p.TraceContext),
	}
	if row.RunAt.IsZero() && !s.dbClock {
		row.RunAt = now
	}
	return row
}

// RunEnqueueTx enqueues runs inside the caller's transaction on the store's
// database, so that the application's own writes and the runs commit (or
// roll back) together. The rules are those of RunEnqueue; an error matching
// store.ErrConflict (an overlap policy changed while its schedule was being
// locked) asks for the transaction to be run again. The notification
// that wakes workers is sent when tx commits. On SQLite, a transaction of
// another *bun.DB than the store's must handle times as the store does
// (see New); one that does not is refused before anything is written.
func (s *Store) RunEnqueueTx(ctx context.Context, tx bun.Tx, params ...*store.RunEnqueueParams) ([]*store.EnqueueResult, error) {
	if s.isClosed() {
		return nil, store.ErrClosed
	}
	ps, err := storekit.PrepareEnqueueBatch(params, s.limits)
	if err != nil {
		return nil, err
	}
	if err := s.checkForeignTx(ctx, tx); err != nil {
		return nil, fmt.Errorf("enqueue runs: %w", err)
	}
	out := &outbox{}
	res, err := s.enqueue(ctx, tx, ps, out, nil)
	if err == nil {
		// No origin: this process's listener republishes it after the commit.
		err = s.sendNotifications(ctx, tx, out, "")
	}
	if err != nil {
		return nil, fmt.Errorf("enqueue runs: %w", translate(err))
	}
	return res, nil
}

// enqueue inserts prepared runs in tx. decorate, when set, adjusts each new
// row before it is written (EventAccept sets the run's id and event).
func (s *Store) enqueue(ctx context.Context, tx bun.Tx, ps []*store.RunEnqueueParams, out *outbox, decorate func(i int, r *runRow)) ([]*store.EnqueueResult, error) {
	res, fired, err := s.enqueueRuns(ctx, tx, ps, out, decorate, nil)
	if err == nil {
		err = s.advanceLastFired(ctx, tx, fired)
	}
	return res, err
}

// scheduleLock is a schedule's id and overlap policy, read under a lock.
type scheduleLock struct {
	ID      string `bun:"id"`
	Overlap string `bun:"overlap"`
}

// errLockAgain restarts a transaction whose schedules' overlap policies
// changed between their reading and their locking (lockSchedules).
var errLockAgain = fmt.Errorf("%w: an overlap policy changed while its schedule was being locked; try again", store.ErrConflict)

// lockSchedules locks the schedules sids, in id order, for a decision on
// their runs, and returns their overlap policies. On PostgreSQL, schedules
// that all allow every overlap are locked FOR KEY SHARE: no decision
// depends on their other runs, so the lock only keeps them from being
// deleted, and a pause or an edit (an UPDATE, FOR NO KEY UPDATE) need not
// wait for the transaction, which for staged ticks lasts until their
// moment. Any other policy takes FOR UPDATE, so that the decisions on a
// schedule are taken one transaction at a time. The policies are read
// first without a lock; when one changed before the lock, errLockAgain
// asks for the transaction to run again (a lock taken in another mode
// than the policies now want cannot be upgraded without risking a
// deadlock).
func (s *Store) lockSchedules(ctx context.Context, tx bun.Tx, sids []string) ([]scheduleLock, error) {
	var rows []scheduleLock
	if err := s.scan(ctx, tx, &rows, s.sql.SchedulePolicies, s.listArg(sids)); err != nil {
		return nil, err
	}
	if !s.pg() { // SQLite's writer lock covers the database
		return rows, nil
	}
	light := allowAll(rows)
	q := s.sql.ScheduleLockUpdate
	if light {
		q = s.sql.ScheduleLockKeyShare
	}
	rows = rows[:0]
	if err := s.scan(ctx, tx, &rows, q, sids); err != nil {
		return nil, err
	}
	if light && !allowAll(rows) {
		return nil, errLockAgain
	}
	return rows, nil
}

func allowAll(rows []scheduleLock) bool {
	for _, r := range rows {
		if store.OverlapPolicy(r.Overlap) != store.OverlapAllowAll {
			return false
		}
	}
	return true
}

// enqueueRuns is enqueue, except that the ticks' advance of their
// schedules' LastFiredAt is returned for the caller to write (after a
// staged release).
func (s *Store) enqueueRuns(ctx context.Context, tx bun.Tx, ps []*store.RunEnqueueParams, out *outbox, decorate func(i int, r *runRow), claim *store.RunClaimParams) ([]*store.EnqueueResult, map[string]firedTick, error) {
	now := s.stamp()
	results := make([]*store.EnqueueResult, len(ps))

	// The schedules named, locked so that overlap decisions of one
	// schedule are taken one transaction at a time.
	policies := map[string]store.OverlapPolicy{}
	var sids []string
	for i, p := range ps {
		if p.ScheduleID == "" {
			continue
		}
		if !validID(p.ScheduleID) {
			return nil, nil, fmt.Errorf("%s: schedule %s: %w", field(ps, i, "schedule_id"), p.ScheduleID, store.ErrNotFound)
		}
		if _, ok := policies[p.ScheduleID]; !ok {
			policies[p.ScheduleID] = ""
			sids = append(sids, p.ScheduleID)
		}
	}
	if len(sids) > 0 {
		rows, err := s.lockSchedules(ctx, tx, sids)
		if err != nil {
			return nil, nil, err
		}
		for _, r := range rows {
			policies[r.ID] = store.OverlapPolicy(r.Overlap)
		}
		for i, p := range ps {
			if p.ScheduleID != "" && policies[p.ScheduleID] == "" {
				return nil, nil, fmt.Errorf("%s: schedule %s: %w", field(ps, i, "schedule_id"), p.ScheduleID, store.ErrNotFound)
			}
		}
	}

	// Runs already there: the same tick, or the same idempotency key.
	existing, err := s.findExisting(ctx, tx, ps)
	if err != nil {
		return nil, nil, err
	}

	// What is active per schedule, where the policy looks at it.
	active := map[string]overlap.Active{}
	var counted []string
	for _, sid := range sids {
		if policies[sid] != store.OverlapAllowAll {
			counted = append(counted, sid)
		}
	}
	if len(counted) > 0 {
		var counts []struct {
			ScheduleID string `bun:"schedule_id"`
			Status     string `bun:"status"`
			Held       bool   `bun:"held"`
			N          int    `bun:"n"`
		}
		if err := s.scan(ctx, tx, &counts, s.sql.ScheduleActiveCounts, s.listArg(counted)); err != nil {
			return nil, nil, err
		}
		for _, c := range counts {
			a := active[c.ScheduleID]
			switch {
			case c.Status == string(store.RunRunning):
				a.Running += c.N
			case c.Held:
				a.Held += c.N
			default:
				a.Queued += c.N
			}
			active[c.ScheduleID] = a
		}
	}

	var (
		rows      []runRow
		rowOf     = make([]int, len(ps)) // index into rows, or -1
		taken     = map[string]int{}     // key → index into rows, for duplicates within the batch
		cancelFor []string
	)
	for i, p := range ps {
		rowOf[i] = -1
		keys := runKeys(p)
		if r, ok := existingFor(existing, keys); ok {
			results[i] = &store.EnqueueResult{Run: r.run(), Duplicate: true}
			continue
		}
		if j, ok := takenFor(taken, keys); ok {
			rowOf[i] = j
			results[i] = &store.EnqueueResult{Duplicate: true}
			continue
		}
		row := s.newRunRow(p, now)
		if p.ScheduleID != "" {
			d := overlap.Decide(policies[p.ScheduleID], active[p.ScheduleID])
			active[p.ScheduleID] = d.Apply(active[p.ScheduleID])
			if d.CancelOthers {
				cancelFor = appendUnique(cancelFor, p.ScheduleID)
				for j := range rows { // earlier runs of this batch
					if rows[j].ScheduleID == p.ScheduleID && rows[j].Status == string(store.RunQueued) {
						rows[j].Status, rows[j].Held = string(store.RunCancelled), false
						rows[j].FinishedAt, rows[j].Error = now, overlap.CancelReason
					}
				}
			}
			switch {
			case d.Skip:
				row.Status, row.FinishedAt, row.Error = string(store.RunSkipped), now, overlap.SkipReason
			case d.Held:
				row.Held = true
			}
		}
		if decorate != nil {
			decorate(i, &row)
		}
		rowOf[i] = len(rows)
		for _, k := range keys {
			taken[k] = len(rows)
		}
		rows = append(rows, row)
	}

	if len(cancelFor) > 0 {
		if err := s.cancelOthers(ctx, tx, cancelFor, now, out); err != nil {
			return nil, nil, err
		}
	}

	var lease time.Duration
	if claim != nil {
		lease = claim.Lease
		s.claimStaged(ps, rows, rowOf, results, claim, now)
	}

	if len(rows) > 0 {
		ids, err := s.insertRuns(ctx, tx, rows, lease)
		if err != nil {
			return nil, nil, err
		}
		if len(ids) < len(rows) {
			// Another transaction took an idempotency key first.
			if err := s.resolveRaces(ctx, tx, ps, rows, rowOf, ids, results); err != nil {
				return nil, nil, err
			}
		}
	}

	lastFired := map[string]firedTick{}
	due := false
	for i, p := range ps {
		if results[i] != nil && results[i].Run != nil {
			continue
		}
		r := rows[rowOf[i]]
		if results[i] == nil {
			results[i] = &store.EnqueueResult{}
		}
		results[i].Run = r.run()
		if results[i].Duplicate {
			continue
		}
		if p.Kind == store.RunKindSchedule && p.ScheduledFor.After(lastFired[p.ScheduleID].tick) {
			lastFired[p.ScheduleID] = firedTick{p.ScheduledFor, p.NextRunAt}
		}
		if r.Status == string(store.RunQueued) && !r.Held {
			due = true
		}
	}
	if due {
		out.add(store.Notification{Topic: store.TopicRunDue})
	}
	return results, lastFired, nil
}

// claimStaged writes as claimed (StagedEnqueuer) the first claim.Limit
// rows, of the runs ps wrote at now, that a staged claim takes: leased from
// now, or on the database's clock from its now() (insertPG).
func (s *Store) claimStaged(ps []*store.RunEnqueueParams, rows []runRow, rowOf []int, results []*store.EnqueueResult, claim *store.RunClaimParams, now time.Time) {
	n := 0
	for i, p := range ps {
		if n == claim.Limit {
			return
		}
		if results[i] != nil { // a duplicate
			continue
		}
		r := &rows[rowOf[i]]
		if !storekit.StagedClaimable(p, store.RunStatus(r.Status), r.Held) {
			continue
		}
		r.Status, r.LeaseOwner, r.StartedAt = string(store.RunRunning), claim.Node, r.RunAt
		if !s.dbClock {
			r.LeaseExpiresAt = now.Add(claim.Lease)
		}
		n++
	}
}

// insertRuns inserts rows, skipping those that would take a unique key
// already taken, and returns the ids of those inserted. On SQLite each row
// is one run of a statement prepared at open: parsing one statement of a
// thousand rows costs SQLite more than executing a thousand prepared ones.
// Running rows without a lease expiry on PostgreSQL are leased for lease
// (insertPG).
func (s *Store) insertRuns(ctx context.Context, tx bun.Tx, rows []runRow, lease time.Duration) ([]string, error) {
	var ids []string
	if s.pg() {
		// In the order of the unique keys (a tick's, an idempotency
		// key's): two transactions that write the same keys (two nodes
		// firing one moment, a client's retry) wait for each other's keys
		// in one order.
		ordered := rows
		if len(rows) > 1 {
			ordered = slices.Clone(rows)
			slices.SortFunc(ordered, func(a, b runRow) int {
				if c := strings.Compare(a.ScheduleID, b.ScheduleID); c != 0 {
					return c
				}
				if c := a.ScheduledFor.Compare(b.ScheduledFor); c != 0 {
					return c
				}
				if c := strings.Compare(a.Owner, b.Owner); c != 0 {
					return c
				}
				return strings.Compare(a.IdempotencyKey, b.IdempotencyKey)
			})
		}
		q, args := s.insertPG(ordered, lease)
		r, err := s.query(ctx, tx, q, args...)
		if err != nil {
			return nil, err
		}
		got, err := scanInserted(r, len(rows))
		if err != nil {
			return nil, err
		}
		setInserted(rows, got)
		for _, g := range got {
			ids = append(ids, g.ID)
		}
		return ids, nil
	}
	args := make([][]any, len(rows))
	for i := range rows {
		args[i] = rows[i].insertArgs()
	}
	changed, err := s.execEach(ctx, tx, s.sql.RunInsert, args)
	if err != nil {
		return nil, err
	}
	for i, n := range changed {
		if n > 0 {
			ids = append(ids, rows[i].ID)
		}
	}
	return ids, nil
}

// insertPG is the statement and the arguments that insert rows on
// PostgreSQL: run_insert for one run, else run_insert_many, or
// run_insert_many_unkeyed when no row takes a unique key (takesKey).
// Running rows without a lease expiry are leased for lease from the
// database's now(); on the database's clock, they are written queued
// instead when it is behind this process's (the node's) by more than 5 ms,
// as they would start before their RunAt on it.
func (s *Store) insertPG(rows []runRow, lease time.Duration) (string, []any) {
	var node any
	if s.dbClock {
		node = s.stamp()
	}
	if len(rows) == 1 {
		return s.sql.RunInsert, append(rows[0].insertArgs(), micros(lease), node)
	}
	q := s.sql.RunInsertManyUnkeyed
	if slices.ContainsFunc(rows, takesKey) {
		q = s.sql.RunInsertMany
	}
	return q, append(runArrays(rows), micros(lease), node)
}

// takesKey reports whether r takes a unique key besides its id: a tick's
// (schedule and moment) or an idempotency key. Only such a run can find
// its key taken and be skipped as a duplicate.
func takesKey(r runRow) bool {
	return !r.ScheduledFor.IsZero() || r.IdempotencyKey != ""
}

// runArrays are rows as one array per column of runColumns, for
// run_insert_many; NULLs are nil pointers, and a column of NULLs is NULL
// (orNull).
func runArrays(rows []runRow) []any {
	n := len(rows)
	strs := func() []string { return make([]string, n) }
	ptrs := func() []*string { return make([]*string, n) }
	times := func() []*time.Time { return make([]*time.Time, n) }
	ids, kinds, owners, agents, statuses := strs(), strs(), strs(), strs(), strs()
	scheduleIDs, eventIDs, payloads, targets, keys := ptrs(), ptrs(), ptrs(), ptrs(), ptrs()
	leaseOwners, outputs, summaries, progresses, errs, reasons := ptrs(), ptrs(), ptrs(), ptrs(), ptrs(), ptrs()
	traces := ptrs()
	scheduledFor, leaseExpires, started, finished, deliverAfter := times(), times(), times(), times(), times()
	runAt, created := times(), make([]time.Time, n)
	held, cancel := make([]bool, n), make([]bool, n)
	attempts, maxAttempts, timeouts := make([]int64, n), make([]int64, n), make([]int64, n)
	for i := range rows {
		r := &rows[i]
		ids[i], kinds[i], owners[i], agents[i], statuses[i] = r.ID, r.Kind, r.Owner, r.Agent, r.Status
		scheduleIDs[i], eventIDs[i], payloads[i], targets[i], keys[i] = nullPtr(r.ScheduleID), nullPtr(r.EventID),
			nullPtr(r.Payload), nullPtr(r.Targets), nullPtr(r.IdempotencyKey)
		leaseOwners[i], outputs[i], summaries[i], progresses[i], errs[i] = nullPtr(r.LeaseOwner), nullPtr(r.Output),
			nullPtr(r.Summary), nullPtr(r.Progress), nullPtr(r.Error)
		reasons[i], traces[i] = nullPtr(r.CancelReason), nullPtr(r.TraceContext)
		scheduledFor[i], leaseExpires[i], started[i], finished[i], deliverAfter[i] = timePtr(r.ScheduledFor),
			timePtr(r.LeaseExpiresAt), timePtr(r.StartedAt), timePtr(r.FinishedAt), timePtr(r.DeliverAfter)
		runAt[i], created[i] = timePtr(r.RunAt), r.CreatedAt
		held[i], cancel[i] = r.Held, r.CancelRequested
		attempts[i], maxAttempts[i], timeouts[i] = int64(r.Attempt), int64(r.MaxAttempts), int64(r.Timeout)
	}
	return []any{ids, kinds, orNull(scheduleIDs), orNull(scheduledFor), orNull(eventIDs), owners, agents,
		orNull(payloads), orNull(targets), orNull(keys), statuses, held, attempts, maxAttempts, timeouts, orNull(runAt),
		orNull(leaseOwners), orNull(leaseExpires), cancel, orNull(outputs), orNull(summaries), orNull(progresses),
		orNull(errs), created, orNull(started), orNull(finished), orNull(deliverAfter), orNull(reasons), orNull(traces)}
}

// orNull is the array v of a nullable column, or NULL when every element
// of v is: see columns.
func orNull[T any](v []*T) any {
	for _, e := range v {
		if e != nil {
			return v
		}
	}
	return nil
}

// timePtr is &t, or nil when t is zero.
func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	p := new(time.Time) // not &t: see nullPtr
	*p = t
	return p
}

// runKeys are the unique keys a new run would take.
func runKeys(p *store.RunEnqueueParams) []string {
	var keys []string
	if p.Kind == store.RunKindSchedule {
		keys = append(keys, "t\x00"+p.ScheduleID+"\x00"+p.ScheduledFor.Format(time.RFC3339Nano))
	}
	if p.IdempotencyKey != "" {
		keys = append(keys, "k\x00"+p.Owner+"\x00"+p.IdempotencyKey)
	}
	return keys
}

func rowKeys(r *runRow) []string {
	return runKeys(&store.RunEnqueueParams{Kind: store.RunKind(r.Kind), ScheduleID: r.ScheduleID,
		ScheduledFor: utc(r.ScheduledFor), Owner: r.Owner, IdempotencyKey: r.IdempotencyKey})
}

func existingFor(m map[string]*runRow, keys []string) (*runRow, bool) {
	for _, k := range keys {
		if r, ok := m[k]; ok {
			return r, true
		}
	}
	return nil, false
}

func takenFor(m map[string]int, keys []string) (int, bool) {
	for _, k := range keys {
		if j, ok := m[k]; ok {
			return j, true
		}
	}
	return 0, false
}

// findExisting returns the stored runs that hold a key one of ps would take.
func (s *Store) findExisting(ctx context.Context, tx bun.Tx, ps []*store.RunEnqueueParams) (map[string]*runRow, error) {
	// Two IN lists per key kind rather than one condition per run: an OR
	// of a thousand conditions is slow to plan on PostgreSQL and too deep
	// for SQLite's parser. The lists may match more rows than asked for;
	// the keys below pick the ones that matter.
	var sids, owners, keys []string
	var ticks []time.Time
	seenTick := map[time.Time]bool{}
	for _, p := range ps {
		if p.Kind == store.RunKindSchedule {
			sids = appendUnique(sids, p.ScheduleID)
			if !seenTick[p.ScheduledFor] {
				seenTick[p.ScheduledFor] = true
				ticks = append(ticks, p.ScheduledFor)
			}
		}
		if p.IdempotencyKey != "" {
			owners = appendUnique(owners, p.Owner)
			keys = append(keys, p.IdempotencyKey)
		}
	}
	found := map[string]*runRow{}
	if len(sids) == 0 && len(keys) == 0 {
		return found, nil
	}
	var rows []runRow
	err := s.scan(ctx, tx, &rows, s.sql.RunsExisting, s.listArg(sids), s.timesArg(ticks), s.listArg(owners), s.listArg(keys))
	if err != nil {
		return nil, err
	}
	wanted := map[string]bool{}
	for _, p := range ps {
		for _, k := range runKeys(p) {
			wanted[k] = true
		}
	}
	for i := range rows {
		for _, k := range rowKeys(&rows[i]) {
			if wanted[k] {
				found[k] = &rows[i]
			}
		}
	}
	return found, nil
}

// resolveRaces turns the rows the insert skipped into duplicates of the
// runs that hold their keys.
func (s *Store) resolveRaces(ctx context.Context, tx bun.Tx, ps []*store.RunEnqueueParams, rows []runRow, rowOf []int, ids []string, results []*store.EnqueueResult) error {
	inserted := make(map[string]bool, len(ids))
	for _, id := range ids {
		inserted[id] = true
	}
	var lost []*store.RunEnqueueParams
	for i, p := range ps {
		if rowOf[i] >= 0 && !inserted[rows[rowOf[i]].ID] {
			lost = append(lost, p)
		}
	}
	existing, err := s.findExisting(ctx, tx, lost)
	if err != nil {
		return err
	}
	for i, p := range ps {
		if rowOf[i] < 0 || inserted[rows[rowOf[i]].ID] {
			continue
		}
		r, ok := existingFor(existing, runKeys(p))
		if !ok {
			return fmt.Errorf("%w: run %s was not inserted and holds no key", store.ErrConflict, rows[rowOf[i]].ID)
		}
		results[i] = &store.EnqueueResult{Run: r.run(), Duplicate: true}
	}
	return nil
}

// cancelOthers applies cancel_other: the schedules' queued runs are
// cancelled, their running runs asked to stop.
func (s *Store) cancelOthers(ctx context.Context, tx bun.Tx, sids []string, now time.Time, out *outbox) error {
	if s.pg() {
		// The runs are locked without waiting: a run that another
		// transaction is writing (its node's finish) makes the whole
		// enqueue run again (a lock not available is retried, see
		// retryable), so that this transaction, which holds the
		// schedules, never waits for a run while holding others.
		// SQLite's writer lock covers the database.
		if _, err := s.exec(ctx, tx, s.sql.RunsCancelLock, sids); err != nil {
			return err
		}
	}
	if _, err := s.exec(ctx, tx, s.sql.RunsCancelQueued, now, overlap.CancelReason, s.listArg(sids)); err != nil {
		return err
	}
	var ids []string
	if err := s.scan(ctx, tx, &ids, s.sql.RunsCancelRunning, overlap.CancelReason, s.listArg(sids)); err != nil {
		return err
	}
	for _, id := range ids {
		out.add(store.Notification{Topic: store.TopicRunCancel, ID: id})
	}
	return nil
}

// firedTick is a schedule's newest tick in a batch and the next fire time
// that follows it (zero when not given).
type firedTick struct{ tick, next time.Time }

// firedPart is the most schedules whose last fired ticks one transaction
// writes after a staged enqueue.
const firedPart = 500

// splitFired splits ticks into maps of at most n schedules.
func splitFired(ticks map[string]firedTick, n int) []map[string]firedTick {
	var parts []map[string]firedTick
	var cur map[string]firedTick
	for id, t := range ticks {
		if len(cur) == n || cur == nil {
			cur = make(map[string]firedTick, min(n, len(ticks)))
			parts = append(parts, cur)
		}
		cur[id] = t
	}
	return parts
}

// advanceLastFired moves each schedule's LastFiredAt up to its newest tick,
// and its NextRunAt to the fire time given with that tick.
func (s *Store) advanceLastFired(ctx context.Context, tx bun.Tx, ticks map[string]firedTick) error {
	if len(ticks) == 0 {
		return nil
	}
	if s.pg() {
		ids, fired, next := make([]string, 0, len(ticks)), make([]time.Time, 0, len(ticks)), make([]*time.Time, 0, len(ticks))
		for id, t := range ticks {
			ids, fired, next = append(ids, id), append(fired, t.tick), append(next, timePtr(t.next))
		}
		_, err := s.exec(ctx, tx, s.sql.ScheduleAdvanceFired, ids, fired, next)
		return err
	}
	args := make([][]any, 0, len(ticks))
	for id, t := range ticks {
		args = append(args, []any{t.tick, nullTime(t.next), id, t.tick})
	}
	_, err := s.execEach(ctx, tx, s.sql.ScheduleAdvanceFired, args)
	return err
}

// nullTime is t, or NULL when t is zero.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// field names the i-th entry of a batch in errors, as validation does.
func field(ps []*store.RunEnqueueParams, i int, name string) string {
	if len(ps) == 1 {
		return name
	}
	return fmt.Sprintf("runs[%d].%s", i, name)
}

func appendUnique(s []string, v string) []string {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}
