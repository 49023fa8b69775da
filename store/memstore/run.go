package memstore

import (
	"cmp"
	"container/heap"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/store/internal/overlap"
	"github.com/heraldhq/herald/store/storekit"
)

// RunEnqueue implements store.RunStore.
func (s *Store) RunEnqueue(ctx context.Context, params ...*store.RunEnqueueParams) ([]*store.EnqueueResult, error) {
	return s.RunEnqueueStaged(ctx, nil, nil, params...)
}

// RunEnqueueStaged implements store.StagedEnqueuer. A memory write takes
// no time, so nothing is written before release returns: the runs are
// written, at once, after it, and the runs claim takes are claimed then. A
// nil release writes them at once, as RunEnqueue does.
func (s *Store) RunEnqueueStaged(ctx context.Context, release func(context.Context) error, claim *store.RunClaimParams, params ...*store.RunEnqueueParams) ([]*store.EnqueueResult, error) {
	prepared, err := storekit.PrepareEnqueueBatch(params, s.limits)
	if err == nil {
		err = storekit.CheckStagedClaim(claim)
	}
	if err != nil {
		return nil, fmt.Errorf("enqueue runs: %w", err)
	}
	if release != nil {
		if err := release(ctx); err != nil {
			return nil, fmt.Errorf("enqueue runs: %w", err)
		}
	}
	now, err := s.begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("enqueue runs: %w", err)
	}
	defer s.mu.Unlock()
	// Every check comes before the first write, so the call is all or
	// nothing.
	for _, p := range prepared {
		if p.ScheduleID == "" {
			continue
		}
		if _, ok := s.schedules[p.ScheduleID]; !ok {
			return nil, fmt.Errorf("enqueue runs: schedule %s: %w", p.ScheduleID, store.ErrNotFound)
		}
	}
	ids := make([]string, len(prepared))
	for i := range ids {
		ids[i] = s.ids.New(now)
	}
	var fx effects
	active := make(map[string]overlap.Active)
	written := make([]*store.Run, len(prepared))
	dups := make([]bool, len(prepared))
	for i, p := range prepared {
		written[i], dups[i] = s.enqueueLocked(p, ids[i], "", now, active, &fx)
	}
	if claim != nil {
		// Decided once every tick of the call is: a later tick may have
		// cancelled an earlier one (overlap policy cancel_other).
		expires, n := store.Timestamp(now.Add(claim.Lease)), 0
		for i, p := range prepared {
			r := written[i]
			if n == claim.Limit {
				break
			}
			if dups[i] || !storekit.StagedClaimable(p, r.Status, r.Held) {
				continue
			}
			r.Status, r.LeaseOwner, r.LeaseExpiresAt, r.StartedAt = store.RunRunning, claim.Node, expires, r.RunAt
			if sch := s.schedules[r.ScheduleID]; sch != nil && r.StartedAt.After(sch.LastRunAt) {
				sch.LastRunAt = r.StartedAt
			}
			n++
		}
		// Workers are woken for the runs still queued only.
		fx.runDue = false
		for i, r := range written {
			if !dups[i] && r.Status == store.RunQueued && !r.Held {
				fx.runDue = true
			}
		}
	}
	out := make([]*store.EnqueueResult, len(prepared))
	for i, r := range written {
		out[i] = &store.EnqueueResult{Run: cloneRun(r), Duplicate: dups[i]}
	}
	s.publish(&fx)
	return out, nil
}

// duplicateLocked returns the run that already holds p's tick or
// idempotency key, or nil.
func (s *Store) duplicateLocked(p *store.RunEnqueueParams) *store.Run {
	if p.Kind == store.RunKindSchedule {
		if id, ok := s.ticks[tickKey{p.ScheduleID, p.ScheduledFor.UnixMicro()}]; ok {
			return s.runs[id]
		}
	}
	if p.IdempotencyKey != "" {
		if id, ok := s.idempotency[ownerKey{p.Owner, p.IdempotencyKey}]; ok {
			return s.runs[id]
		}
	}
	return nil
}

// enqueueLocked inserts the run p asks for, unless it is a duplicate, and
// applies the overlap policy of its schedule, which must exist. active
// carries the overlap state of schedules already seen in this batch. p is
// prepared (storekit.PrepareEnqueue): its payload and trace context are
// copies already, which the run keeps.
func (s *Store) enqueueLocked(p *store.RunEnqueueParams, id, eventID string, now time.Time, active map[string]overlap.Active, fx *effects) (r *store.Run, duplicate bool) {
	if r := s.duplicateLocked(p); r != nil {
		return r, true
	}
	r = &store.Run{
		ID:             id,
		Kind:           p.Kind,
		ScheduleID:     p.ScheduleID,
		ScheduledFor:   p.ScheduledFor,
		EventID:        eventID,
		Owner:          p.Owner,
		Agent:          p.Agent,
		Payload:        p.Payload,
		Targets:        cloneTargets(p.Targets),
		TraceContext:   p.TraceContext,
		IdempotencyKey: p.IdempotencyKey,
		Status:         store.RunQueued,
		Attempt:        1,
		MaxAttempts:    p.MaxAttempts,
		Timeout:        p.Timeout,
		RunAt:          p.RunAt,
		CreatedAt:      now,
	}
	if r.RunAt.IsZero() {
		r.RunAt = now
	}
	if sch := s.schedules[p.ScheduleID]; sch != nil {
		a, ok := active[sch.ID]
		if !ok {
			a = s.activeLocked(sch.ID)
		}
		d := overlap.Decide(sch.Overlap, a)
		active[sch.ID] = d.Apply(a)
		if d.CancelOthers {
			s.cancelOthersLocked(sch.ID, now, fx)
		}
		switch {
		case d.Skip:
			r.Status = store.RunSkipped
			r.FinishedAt = now
			r.Error = overlap.SkipReason
		case d.Held:
			r.Held = true
		}
		if p.Kind == store.RunKindSchedule && p.ScheduledFor.After(sch.LastFiredAt) {
			sch.LastFiredAt = p.ScheduledFor
			if !p.NextRunAt.IsZero() {
				sch.NextRunAt = p.NextRunAt
			}
		}
	}
	s.runs[id] = r
	if r.ScheduleID != "" {
		if s.scheduleRuns[r.ScheduleID] == nil {
			s.scheduleRuns[r.ScheduleID] = map[string]*store.Run{}
		}
		s.scheduleRuns[r.ScheduleID][id] = r
	}
	if r.Kind == store.RunKindSchedule {
		s.ticks[tickKey{r.ScheduleID, r.ScheduledFor.UnixMicro()}] = id
	}
	if r.IdempotencyKey != "" {
		s.idempotency[ownerKey{r.Owner, r.IdempotencyKey}] = id
	}
	if r.Status == store.RunQueued && !r.Held {
		s.markDue(r)
		fx.runDue = true
	}
	return r, false
}

// activeLocked counts the unfinished runs of a schedule.
func (s *Store) activeLocked(scheduleID string) overlap.Active {
	var a overlap.Active
	for _, r := range s.scheduleRuns[scheduleID] {
		switch {
		case r.Status == store.RunRunning:
			a.Running++
		case r.Status == store.RunQueued && r.Held:
			a.Held++
		case r.Status == store.RunQueued:
			a.Queued++
		}
	}
	return a
}

// cancelOthersLocked applies overlap policy cancel_other: queued runs of the
// schedule are cancelled at once, running ones by request.
func (s *Store) cancelOthersLocked(scheduleID string, now time.Time, fx *effects) {
	for _, r := range s.scheduleRuns[scheduleID] {
		switch r.Status {
		case store.RunQueued:
			r.Status = store.RunCancelled
			r.Held = false
			r.FinishedAt = now
			r.Error = overlap.CancelReason
		case store.RunRunning:
			if !r.CancelRequested {
				r.CancelRequested, r.CancelReason = true, overlap.CancelReason
			}
			fx.cancels = append(fx.cancels, r.ID)
		}
	}
}

// releaseLocked releases the oldest held run of a schedule when no run of
// the schedule is running or claimable.
func (s *Store) releaseLocked(scheduleID string, fx *effects) {
	if scheduleID == "" {
		return
	}
	var oldest *store.Run
	for _, r := range s.scheduleRuns[scheduleID] {
		switch {
		case r.Status == store.RunRunning, r.Status == store.RunQueued && !r.Held:
			return
		case r.Status == store.RunQueued && r.Held:
			if oldest == nil || r.ID < oldest.ID {
				oldest = r
			}
		}
	}
	if oldest != nil {
		oldest.Held = false
		s.markDue(oldest)
		fx.runDue = true
	}
}

// RunGet implements store.RunStore.
func (s *Store) RunGet(ctx context.Context, id string) (*store.Run, error) {
	if _, err := s.begin(ctx); err != nil {
		return nil, fmt.Errorf("get run %s: %w", id, err)
	}
	defer s.mu.Unlock()
	r, ok := s.runs[id]
	if !ok {
		return nil, fmt.Errorf("get run %s: %w", id, store.ErrNotFound)
	}
	return cloneRun(r), nil
}

// RunList implements store.RunStore: newest first, the cursor being the
// last ID of the previous page.
func (s *Store) RunList(ctx context.Context, params *store.RunListParams) (*store.RunPage, error) {
	if _, err := s.begin(ctx); err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	defer s.mu.Unlock()
	if err := storekit.CheckRunList(params); err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	var p store.RunListParams
	if params != nil {
		p = *params
	}
	from, to := store.Timestamp(p.CreatedFrom), store.Timestamp(p.CreatedTo)
	var rows []*store.Run
	for _, r := range s.runs {
		switch {
		case p.Owner != "" && r.Owner != p.Owner,
			p.ScheduleID != "" && r.ScheduleID != p.ScheduleID,
			len(p.Statuses) > 0 && !slices.Contains(p.Statuses, r.Status),
			p.Agent != "" && r.Agent != p.Agent,
			len(p.Kinds) > 0 && !slices.Contains(p.Kinds, r.Kind),
			!from.IsZero() && r.CreatedAt.Before(from),
			!to.IsZero() && !r.CreatedAt.Before(to),
			p.Cursor != "" && r.ID >= p.Cursor:
			continue
		}
		rows = append(rows, r)
	}
	slices.SortFunc(rows, func(a, b *store.Run) int { return cmp.Compare(b.ID, a.ID) })
	page := &store.RunPage{Runs: []*store.Run{}}
	limit := storekit.ListLimit(p.Limit)
	for _, r := range rows[:min(limit, len(rows))] {
		page.Runs = append(page.Runs, cloneRun(r))
	}
	if len(rows) > limit {
		page.Next = rows[limit-1].ID
	}
	return page, nil
}

// RunClaim implements store.RunStore.
func (s *Store) RunClaim(ctx context.Context, params *store.RunClaimParams) ([]*store.Run, error) {
	now, err := s.begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("claim runs: %w", err)
	}
	defer s.mu.Unlock()
	if err := storekit.CheckClaim(params); err != nil {
		return nil, fmt.Errorf("claim runs: %w", err)
	}
	expires := store.Timestamp(now.Add(params.Lease))
	var out []*store.Run
	for len(out) < params.Limit {
		r := s.nextDue()
		if r == nil || r.RunAt.After(now) {
			break
		}
		heap.Pop(&s.due)
		r.Status = store.RunRunning
		r.LeaseOwner = params.Node
		r.LeaseExpiresAt = expires
		r.StartedAt = now
		r.CancelRequested, r.CancelReason = false, ""
		if sch := s.schedules[r.ScheduleID]; sch != nil {
			sch.LastRunAt = now
		}
		out = append(out, cloneRun(r))
	}
	return out, nil
}

// holds reports whether node holds the lease of running run r.
func holds(r *store.Run, node string) bool {
	return r != nil && r.Status == store.RunRunning && r.LeaseOwner == node
}

// RunExtendLease implements store.RunStore.
func (s *Store) RunExtendLease(ctx context.Context, params *store.RunExtendLeaseParams) ([]*store.RunLease, error) {
	now, err := s.begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("extend leases: %w", err)
	}
	defer s.mu.Unlock()
	if err := storekit.CheckExtendLease(params); err != nil {
		return nil, fmt.Errorf("extend leases: %w", err)
	}
	expires := store.Timestamp(now.Add(params.Lease))
	out := []*store.RunLease{}
	seen := make(map[string]bool, len(params.IDs))
	for _, id := range params.IDs {
		r := s.runs[id]
		if seen[id] || !holds(r, params.Node) {
			continue
		}
		seen[id] = true
		r.LeaseExpiresAt = expires
		out = append(out, &store.RunLease{ID: id, LeaseExpiresAt: expires, CancelRequested: r.CancelRequested})
	}
	return out, nil
}

// RunProgress implements store.RunStore. A run the node does not hold,
// missing ones included, is ErrLeaseLost.
func (s *Store) RunProgress(ctx context.Context, params *store.RunProgressParams) error {
	if _, err := s.begin(ctx); err != nil {
		return fmt.Errorf("record progress: %w", err)
	}
	defer s.mu.Unlock()
	switch {
	case params == nil:
		return fmt.Errorf("record progress: %w", store.Invalid("progress", "must not be nil"))
	case params.ID == "":
		return fmt.Errorf("record progress: %w", store.Invalid("id", "must not be empty"))
	case params.Node == "":
		return fmt.Errorf("record progress: %w", store.Invalid("node", "must not be empty"))
	}
	r := s.runs[params.ID]
	if !holds(r, params.Node) {
		return fmt.Errorf("record progress: %w", &store.LeaseLostError{RunIDs: []string{params.ID}})
	}
	r.Progress = cloneProgress(params.Progress)
	return nil
}

// RunFinish implements store.RunStore. Entries for runs the node does not
// hold, missing ones included, are refused.
func (s *Store) RunFinish(ctx context.Context, params ...*store.RunFinishParams) ([]*store.Run, error) {
	now, err := s.begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("finish runs: %w", err)
	}
	defer s.mu.Unlock()
	prepared, err := storekit.PrepareFinishBatch(params, s.limits)
	if err != nil {
		return nil, fmt.Errorf("finish runs: %w", err)
	}
	out, err := s.transition(len(prepared), func(i int) (string, string) { return prepared[i].ID, prepared[i].Node },
		func(i int, r *store.Run, fx *effects) {
			p := prepared[i]
			r.Status, r.Output, r.Summary, r.Error = p.Status, p.Output, p.Summary, p.Error
			if p.Status == store.RunCancelled && r.CancelReason != "" {
				r.Error = r.CancelReason
			}
			if p.Progress != nil {
				r.Progress = p.Progress
			}
			if p.Targets != nil {
				r.Targets = p.Targets
			}
			s.setDeliverAfter(r, p.DeliverAfter)
			r.FinishedAt = now
			r.LeaseOwner, r.LeaseExpiresAt = "", time.Time{}
			s.releaseLocked(r.ScheduleID, fx)
		})
	if err != nil {
		return out, fmt.Errorf("finish runs: %w", err)
	}
	return out, nil
}

// RunRequeue implements store.RunStore. Entries for runs the node does not
// hold, missing ones included, are refused.
func (s *Store) RunRequeue(ctx context.Context, params ...*store.RunRequeueParams) ([]*store.Run, error) {
	now, err := s.begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("requeue runs: %w", err)
	}
	defer s.mu.Unlock()
	prepared, err := storekit.PrepareRequeueBatch(params)
	if err != nil {
		return nil, fmt.Errorf("requeue runs: %w", err)
	}
	out, err := s.transition(len(prepared), func(i int) (string, string) { return prepared[i].ID, prepared[i].Node },
		func(i int, r *store.Run, fx *effects) {
			p := prepared[i]
			r.LeaseOwner, r.LeaseExpiresAt = "", time.Time{}
			if r.CancelRequested {
				r.Status, r.Error, r.FinishedAt = store.RunCancelled, cmp.Or(r.CancelReason, "cancelled"), now
				if len(r.Targets) > 0 {
					s.setDeliverAfter(r, p.DeliverAfter)
				}
				s.releaseLocked(r.ScheduleID, fx)
				return
			}
			r.Status, r.RunAt = store.RunQueued, p.RunAt
			if r.RunAt.IsZero() {
				r.RunAt = now
			}
			r.RunAt = r.RunAt.Add(p.Delay)
			s.markDue(r)
			if p.Error != "" {
				r.Error = p.Error
			}
			if p.NextAttempt {
				r.Attempt++
			}
			fx.runDue = true
		})
	if err != nil {
		return out, fmt.Errorf("requeue runs: %w", err)
	}
	return out, nil
}

// transition applies apply to each of n entries whose run (named by key) is
// running under the entry's node, and refuses the others: the result holds
// the changed runs in order, nil where refused, and a *store.LeaseLostError
// names the refused ones. It publishes the effects. s.mu must be held.
func (s *Store) transition(n int, key func(i int) (id, node string), apply func(i int, r *store.Run, fx *effects)) ([]*store.Run, error) {
	var fx effects
	var lost []string
	out := make([]*store.Run, n)
	for i := range n {
		id, node := key(i)
		r := s.runs[id]
		if !holds(r, node) {
			lost = append(lost, id)
			continue
		}
		apply(i, r, &fx)
		out[i] = cloneRun(r)
	}
	s.publish(&fx)
	if lost != nil {
		return out, &store.LeaseLostError{RunIDs: lost}
	}
	return out, nil
}

// RunRescue implements store.RunStore. Runs whose lease expired strictly
// before now are rescued, the longest expired first. It returns the rescued
// runs; held runs it releases on the way are not among them.
func (s *Store) RunRescue(ctx context.Context, params *store.RunRescueParams) ([]*store.Run, error) {
	now, err := s.begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("rescue runs: %w", err)
	}
	defer s.mu.Unlock()
	var p store.RunRescueParams
	if params != nil {
		p = *params
	}
	if p.Limit < 0 {
		return nil, fmt.Errorf("rescue runs: %w", store.Invalid("limit", "must not be negative"))
	}
	limit := p.Limit
	if limit == 0 {
		limit = store.ListLimitMax
	}
	var expired []*store.Run
	for _, r := range s.runs {
		if r.Status == store.RunRunning && r.LeaseExpiresAt.Before(now) {
			expired = append(expired, r)
		}
	}
	slices.SortFunc(expired, func(a, b *store.Run) int {
		return cmp.Or(a.LeaseExpiresAt.Compare(b.LeaseExpiresAt), cmp.Compare(a.ID, b.ID))
	})
	expired = expired[:min(limit, len(expired))]
	var fx effects
	out := make([]*store.Run, 0, len(expired))
	for _, r := range expired {
		reason := "lease expired on node " + r.LeaseOwner
		r.LeaseOwner = ""
		r.LeaseExpiresAt = time.Time{}
		switch {
		case r.CancelRequested:
			r.Status = store.RunCancelled
			r.Error = cmp.Or(r.CancelReason, "cancelled") + "; " + reason
			r.FinishedAt = now
			if len(r.Targets) > 0 {
				s.setDeliverAfter(r, store.Timestamp(p.DeliverAfter))
			}
		case r.Attempt >= r.MaxAttempts:
			r.Status = store.RunFailed
			r.Error = reason
			r.FinishedAt = now
			if len(r.Targets) > 0 {
				s.setDeliverAfter(r, store.Timestamp(p.DeliverAfter))
			}
		default:
			r.Status = store.RunQueued
			r.Error = reason
			r.Attempt++
			r.RunAt = now
			s.markDue(r)
			fx.runDue = true
		}
		out = append(out, cloneRun(r))
		if r.Status.Terminal() {
			s.releaseLocked(r.ScheduleID, &fx)
		}
	}
	// A safety net: no held run may wait on a schedule with nothing active.
	stranded := make(map[string]bool)
	for _, r := range s.runs {
		if r.Status == store.RunQueued && r.Held {
			stranded[r.ScheduleID] = true
		}
	}
	for id := range stranded {
		s.releaseLocked(id, &fx)
	}
	s.publish(&fx)
	return out, nil
}

// RunCancel implements store.RunStore.
func (s *Store) RunCancel(ctx context.Context, params *store.RunCancelParams) (*store.Run, error) {
	now, err := s.begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("cancel run: %w", err)
	}
	defer s.mu.Unlock()
	if params == nil {
		return nil, fmt.Errorf("cancel run: %w", store.Invalid("cancel", "must not be nil"))
	}
	r, ok := s.runs[params.ID]
	if !ok {
		return nil, fmt.Errorf("cancel run %s: %w", params.ID, store.ErrNotFound)
	}
	var fx effects
	switch r.Status {
	case store.RunQueued:
		r.Status = store.RunCancelled
		r.Held = false
		r.FinishedAt = now
		r.Error = params.Reason
		if r.Error == "" {
			r.Error = "cancelled"
		}
		s.releaseLocked(r.ScheduleID, &fx)
	case store.RunRunning:
		if !r.CancelRequested {
			r.CancelRequested, r.CancelReason = true, cmp.Or(params.Reason, "cancelled")
		}
		fx.cancels = append(fx.cancels, r.ID)
	default:
		return nil, fmt.Errorf("cancel run %s: already %s: %w", r.ID, r.Status, store.ErrConflict)
	}
	s.publish(&fx)
	return cloneRun(r), nil
}

// RunNextDue implements store.RunStore.
func (s *Store) RunNextDue(ctx context.Context) (time.Time, error) {
	if _, err := s.begin(ctx); err != nil {
		return time.Time{}, fmt.Errorf("next due run: %w", err)
	}
	defer s.mu.Unlock()
	r := s.nextDue()
	if r == nil {
		return time.Time{}, fmt.Errorf("next due run: %w", store.ErrNotFound)
	}
	return r.RunAt, nil
}

// RunDeleteFinished implements store.RunStore. With a limit, the runs that
// finished first go first.
func (s *Store) RunDeleteFinished(ctx context.Context, params *store.RunDeleteFinishedParams) (int, error) {
	now, err := s.begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("delete finished runs: %w", err)
	}
	defer s.mu.Unlock()
	var p store.RunDeleteFinishedParams
	if params != nil {
		p = *params
	}
	switch {
	case p.OlderThan <= 0:
		return 0, fmt.Errorf("delete finished runs: %w", store.Invalid("older_than", "must be positive"))
	case p.Limit < 0:
		return 0, fmt.Errorf("delete finished runs: %w", store.Invalid("limit", "must not be negative"))
	}
	cutoff := now.Add(-p.OlderThan)
	var old []*store.Run
	for _, r := range s.runs {
		if r.Status.Terminal() && r.FinishedAt.Before(cutoff) && r.DeliverAfter.IsZero() {
			old = append(old, r)
		}
	}
	if p.Limit > 0 && len(old) > p.Limit {
		slices.SortFunc(old, func(a, b *store.Run) int {
			return cmp.Or(a.FinishedAt.Compare(b.FinishedAt), cmp.Compare(a.ID, b.ID))
		})
		old = old[:p.Limit]
	}
	for _, r := range old {
		delete(s.runs, r.ID)
		if runs := s.scheduleRuns[r.ScheduleID]; runs != nil {
			delete(runs, r.ID)
			if len(runs) == 0 {
				delete(s.scheduleRuns, r.ScheduleID)
			}
		}
		delete(s.deliveries, r.ID)
		delete(s.outbox, r.ID)
		if k := (tickKey{r.ScheduleID, r.ScheduledFor.UnixMicro()}); r.Kind == store.RunKindSchedule && s.ticks[k] == r.ID {
			delete(s.ticks, k)
		}
		if k := (ownerKey{r.Owner, r.IdempotencyKey}); r.IdempotencyKey != "" && s.idempotency[k] == r.ID {
			delete(s.idempotency, k)
		}
	}
	return len(old), nil
}

// setDeliverAfter sets r's DeliverAfter, zero included, and keeps the
// outbox index in step.
func (s *Store) setDeliverAfter(r *store.Run, t time.Time) {
	r.DeliverAfter = t
	if t.IsZero() {
		delete(s.outbox, r.ID)
	} else {
		s.outbox[r.ID] = r
	}
}

// RunDelivered implements store.DeliveryOutbox.
func (s *Store) RunDelivered(ctx context.Context, id string) error {
	if _, err := s.begin(ctx); err != nil {
		return fmt.Errorf("run %s delivered: %w", id, err)
	}
	defer s.mu.Unlock()
	r, ok := s.runs[id]
	if !ok {
		return fmt.Errorf("run %s delivered: %w", id, store.ErrNotFound)
	}
	s.setDeliverAfter(r, time.Time{})
	return nil
}

// RunDeliveryClaim implements store.DeliveryOutbox.
func (s *Store) RunDeliveryClaim(ctx context.Context, params *store.RunDeliveryClaimParams) ([]*store.Run, error) {
	now, err := s.begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	defer s.mu.Unlock()
	if err := storekit.CheckDeliveryClaim(params, now); err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	var due []*store.Run
	for _, r := range s.outbox {
		if !r.DeliverAfter.After(now) {
			due = append(due, r)
		}
	}
	slices.SortFunc(due, func(a, b *store.Run) int {
		return cmp.Or(a.DeliverAfter.Compare(b.DeliverAfter), cmp.Compare(a.ID, b.ID))
	})
	due = due[:min(params.Limit, len(due))]
	out := make([]*store.Run, len(due))
	for i, r := range due {
		s.setDeliverAfter(r, store.Timestamp(params.Until))
		out[i] = cloneRun(r)
	}
	return out, nil
}

// RunDeliveryExtend implements store.DeliveryOutbox.
func (s *Store) RunDeliveryExtend(ctx context.Context, params *store.RunDeliveryExtendParams) error {
	now, err := s.begin(ctx)
	if err != nil {
		return fmt.Errorf("extend deliveries: %w", err)
	}
	defer s.mu.Unlock()
	if err := storekit.CheckDeliveryExtend(params, now); err != nil {
		return fmt.Errorf("extend deliveries: %w", err)
	}
	for _, id := range params.IDs {
		if r, ok := s.outbox[id]; ok {
			s.setDeliverAfter(r, store.Timestamp(params.Until))
		}
	}
	return nil
}
