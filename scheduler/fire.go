package scheduler

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/go-kit/log/level"
	"github.com/reugn/go-quartz/quartz"

	"github.com/heraldhq/herald/clock"
	"github.com/heraldhq/herald/internal/trigger"
	"github.com/heraldhq/herald/store"
)

// Ticks are inserted in calls of at most enqueueChunk, in up to
// enqueueParallel parts of at least enqueuePartMin ticks each.
const (
	enqueueChunk    = 500
	enqueueParallel = 4
	enqueuePartMin  = 100
)

// A moment's ticks are written ahead of it by a lead that grows with their
// number: twice the time their writing is expected to take, from the time
// one tick took in the last staged writes (stageTickCost at first), plus
// stageLeadMin, within [stageLeadMin, stageLeadMax]. 10,000 schedules due
// at once take a second or so to write.
const (
	stageTickCost = 100 * time.Microsecond
	stageLeadMin  = 10 * time.Millisecond
	stageLeadMax  = 5 * time.Second
)

// maxMissedScan bounds the missed ticks of one schedule examined in a pass;
// past it, only the ticks that are still on time are considered.
const maxMissedScan = 100_000

// entry is an active schedule as this node fires it.
type entry struct {
	sch  *store.Schedule
	trig *trigger.Trigger
	// next is the earliest tick not yet enqueued by this node; zero when the
	// trigger has no more fire times.
	next time.Time
	// storedNext is the NextRunAt the store holds, as far as this node knows.
	storedNext time.Time
	// index is the entry's place in the due heap.
	index int
}

// dueHeap orders entries by next; entries without a next are not in it.
type dueHeap []*entry

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].next.Before(h[j].next) }
func (h dueHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *dueHeap) Push(x any) {
	e := x.(*entry)
	e.index = len(*h)
	*h = append(*h, e)
}
func (h *dueHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	e.index = -1
	return e
}

// eachDue calls f with every entry whose next tick is not after now,
// without taking them out of the heap.
func (h dueHeap) eachDue(now time.Time, f func(*entry)) {
	var walk func(i int)
	walk = func(i int) {
		if i >= len(h) || h[i].next.After(now) {
			return
		}
		f(h[i])
		walk(2*i + 1)
		walk(2*i + 2)
	}
	walk(0)
}

// countDue returns how many entries' next tick is not after now.
func (h dueHeap) countDue(now time.Time) (n int) {
	h.eachDue(now, func(*entry) { n++ })
	return n
}

// dueAt returns the entries whose next tick is not after now, without
// taking them out of the heap.
func (h dueHeap) dueAt(now time.Time) (out []*entry) {
	h.eachDue(now, func(e *entry) { out = append(out, e) })
	return out
}

// set places e in the heap by its next tick (out of it when it has none).
func (h *dueHeap) set(e *entry) {
	switch {
	case e.index >= 0 && e.next.IsZero():
		heap.Remove(h, e.index)
	case e.index >= 0:
		heap.Fix(h, e.index)
	case !e.next.IsZero():
		heap.Push(h, e)
	}
}

// fireLoop keeps the active schedules and enqueues their ticks. One
// goroutine (run) owns entries and the due heap, the one structure that
// holds what is due; the timer and the notification dispatcher talk to it
// through pending sets and a signal. The timer is go-quartz's scheduler,
// which wakes the loop at the moment the loop last set in alarm (arm).
type fireLoop struct {
	s     *Scheduler
	timer *quartz.StdScheduler
	alarm *alarmQueue

	// entries and due are owned by the run goroutine (and by newFireLoop
	// before it).
	entries map[string]*entry
	queue   dueHeap
	prune   bool // the first load deletes static schedules no longer declared
	// retired are entries a pause or a change of trigger replaced, with
	// ticks due before the change that this node had not yet written:
	// the next pass writes them (flushRetired).
	retired []retiredEntry

	// staged, when the clock is the system's, writes the ticks of the
	// next moment a lead ahead of it (leadFor), to commit when it comes
	// (store.StagedEnqueuer); the timer wakes the loop for that. An
	// injected clock does not pass on its own, so its ticks are written
	// at their moment. tickCost is the time one tick took to write in the
	// last staged writes. All are owned by the run goroutine.
	staged    bool
	tickCost  time.Duration
	stagedNew int // runs the last staged write added (not duplicates)

	mu        sync.Mutex // guards the pending changes and flags
	changes   map[string]struct{}
	resyncAll bool
	signal    chan struct{}
	ticks     chan chan error
	done      chan struct{} // closed when run returns
	count     int           // len(entries), readable under mu
}

// newFireLoop loads every active schedule (deleting the static schedules
// no longer declared), enqueues the ticks they missed and starts the
// timer; the loading is bounded by ctx, the timer lives until loopCtx ends.
func newFireLoop(ctx, loopCtx context.Context, s *Scheduler) (*fireLoop, error) {
	f := &fireLoop{
		s:       s,
		entries: map[string]*entry{},
		changes: map[string]struct{}{},
		signal:  make(chan struct{}, 1),
		ticks:   make(chan chan error),
		done:    make(chan struct{}),
	}
	f.alarm = newAlarmQueue(f.poke)
	timer, err := quartz.NewStdScheduler(
		// The alarm only says "look now": a late one must still be run,
		// never dropped as outdated.
		quartz.WithOutdatedThreshold(math.MaxInt64),
		quartz.WithLogger(quartzLogger{s.logger}),
		quartz.WithQueue(f.alarm, &sync.Mutex{}),
	)
	if err != nil {
		return nil, fmt.Errorf("timer: %w", err)
	}
	f.timer = timer.(*quartz.StdScheduler)
	if _, system := s.clock.(clock.System); system {
		f.staged, f.tickCost = true, stageTickCost
	}
	now := s.clock.Now()
	f.prune = s.cfg.PruneStatic
	err = f.load(ctx)
	f.prune = false
	if err != nil {
		return nil, err
	}
	if err := f.pass(ctx, now, true, nil, nil); err != nil {
		return nil, err
	}
	f.timer.Start(loopCtx)
	return f, nil
}

func (f *fireLoop) size() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.count
}

// stopTimer stops the timer and waits for its goroutines.
func (f *fireLoop) stopTimer() {
	f.timer.Stop()
	f.timer.Wait(context.Background())
}

func (f *fireLoop) poke() {
	select {
	case f.signal <- struct{}{}:
	default:
	}
}

// changed is called when schedule id was created, changed or deleted.
func (f *fireLoop) changed(id string) {
	f.mu.Lock()
	f.changes[id] = struct{}{}
	f.mu.Unlock()
	f.poke()
}

// resync asks for every schedule to be read again.
func (f *fireLoop) resync() {
	f.mu.Lock()
	f.resyncAll = true
	f.mu.Unlock()
	f.poke()
}

// tick re-reads every schedule and enqueues what is due, and waits for it.
func (f *fireLoop) tick(ctx context.Context) error {
	done := make(chan error, 1)
	select {
	case f.ticks <- done:
	case <-f.done:
		return ErrNotStarted
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-done:
		return err
	case <-f.done:
		return ErrNotStarted
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (f *fireLoop) run(ctx context.Context) {
	defer close(f.done)
	f.arm(false)
	resync := time.NewTicker(f.s.cfg.ResyncInterval)
	defer resync.Stop()
	for {
		var err error
		select {
		case <-ctx.Done():
			return
		case <-resync.C:
			if err = f.refreshAll(ctx); err != nil {
				f.resync() // again after the retry interval
			}
		case done := <-f.ticks:
			err = f.refreshAll(ctx)
			done <- err
		case <-f.signal:
			f.mu.Lock()
			changes, all := f.changes, f.resyncAll
			f.changes, f.resyncAll = map[string]struct{}{}, false
			f.mu.Unlock()
			if all {
				if err = f.refreshAll(ctx); err != nil {
					f.resync() // again after the retry interval
				}
				break
			}
			// The time is read before the schedules: a pass never applies
			// a later time to what was read earlier.
			now := f.s.clock.Now()
			var failed []string
			for id := range changes {
				if rerr := f.refresh(ctx, id); rerr != nil {
					err = rerr
					failed = append(failed, id)
				}
			}
			if perr := f.pass(ctx, now, false, changes, nil); perr != nil {
				err = perr
			} else if serr := f.stage(ctx); serr != nil {
				err = serr
			}
			for _, id := range failed {
				f.changed(id) // again after the retry interval
			}
		}
		if err != nil && ctx.Err() == nil {
			level.Warn(f.s.logger).Log("msg", "schedule pass failed; retrying", "err", err)
			// Drop the queued signal so the retry waits its interval.
			select {
			case <-f.signal:
			default:
			}
		}
		f.arm(err != nil)
	}
}

// refreshAll re-reads every schedule and passes over all of them.
func (f *fireLoop) refreshAll(ctx context.Context) error {
	now := f.s.clock.Now()
	if err := f.load(ctx); err != nil {
		return err
	}
	return f.pass(ctx, now, true, nil, nil)
}

// load reads every schedule and makes entries match the active ones.
func (f *fireLoop) load(ctx context.Context) error {
	seen := map[string]bool{}
	params := &store.ScheduleListParams{Limit: store.ListLimitMax}
	for {
		page, err := f.s.st.ScheduleList(ctx, params)
		if err != nil {
			return fmt.Errorf("load schedules: %w", err)
		}
		for _, sch := range page.Schedules {
			if f.prune && sch.Static && !f.s.declared(sch) {
				if err := f.s.st.ScheduleDelete(ctx, sch.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
					return fmt.Errorf("delete static schedule %q, no longer declared: %w", sch.Name, err)
				}
				level.Info(f.s.logger).Log("msg", "static schedule no longer declared; deleted", "schedule_id", sch.ID, "name", sch.Name)
				continue
			}
			seen[sch.ID] = true
			f.apply(sch)
		}
		if page.Next == "" {
			break
		}
		params.Cursor = page.Next
	}
	for id := range f.entries {
		if !seen[id] {
			f.remove(id)
		}
	}
	return nil
}

// refresh re-reads schedule id.
func (f *fireLoop) refresh(ctx context.Context, id string) error {
	sch, err := f.s.st.ScheduleGet(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		f.remove(id)
		return nil
	case err != nil:
		return fmt.Errorf("read schedule %s: %w", id, err)
	}
	f.apply(sch)
	return nil
}

func (f *fireLoop) remove(id string) {
	e, ok := f.entries[id]
	if !ok {
		return
	}
	if e.index >= 0 {
		heap.Remove(&f.queue, e.index)
	}
	delete(f.entries, id)
	f.setCount()
}

func (f *fireLoop) setCount() {
	f.mu.Lock()
	f.count = len(f.entries)
	f.mu.Unlock()
}

// retiredEntry is an entry replaced at until, its ticks up to then still
// to be written.
type retiredEntry struct {
	e     *entry
	until time.Time
}

// retire keeps old's ticks due by until (the moment of the change that
// replaces it) for the next pass: a tick that was due before a pause or a
// change of trigger is written under the definition it was due under,
// however late this node learns of the change.
func (f *fireLoop) retire(old *entry, until time.Time) {
	if old == nil || old.next.IsZero() || old.next.After(until) {
		return
	}
	f.retired = append(f.retired, retiredEntry{old, until})
}

// flushRetired writes the ticks of the retired entries. A schedule deleted
// meanwhile has none to write (DeleteSchedule wrote them before it
// deleted); entries that fail otherwise stay for the next pass.
func (f *fireLoop) flushRetired(ctx context.Context) error {
	var errs []error
	kept := f.retired[:0]
	for _, r := range f.retired {
		if err := f.s.writeDue(ctx, r.e, r.until); err != nil {
			kept = append(kept, r)
			errs = append(errs, err)
		}
	}
	f.retired = kept
	return errors.Join(errs...)
}

// writeDue writes the ticks of e due by until, from e.next on, by its
// misfire policy and under its definition. A schedule deleted meanwhile
// has none to write.
func (s *Scheduler) writeDue(ctx context.Context, e *entry, until time.Time) error {
	if e.next.IsZero() || e.next.After(until) {
		return nil
	}
	ticks, _, _ := s.due(e, until)
	if len(ticks) == 0 {
		return nil
	}
	params := make([]*store.RunEnqueueParams, len(ticks))
	for i, t := range ticks {
		params[i] = s.tickParams(e, t)
	}
	spans := s.traceTicks(ctx, params)
	res, err := s.st.RunEnqueue(ctx, params...)
	s.tracedTicks(spans, params, res, err)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("write the ticks of schedule %s due by %s: %w", e.sch.ID, until.Format(time.RFC3339Nano), err)
	}
	s.logTicks(params, res)
	s.observeTicks(params, res)
	return nil
}

// writeDueBefore writes the ticks of cur, as it was before a change at
// until that stops or replaces them (a pause, a change of trigger, a
// delete), that fell due after its last fired tick and by until.
func (s *Scheduler) writeDueBefore(ctx context.Context, cur *store.Schedule, until time.Time) error {
	if cur.Paused {
		return nil
	}
	trig, err := s.triggers.compile(cur)
	if err != nil {
		return nil // an invalid trigger never fired
	}
	base := cur.LastFiredAt
	if base.IsZero() {
		base = cur.CreatedAt
	}
	e := &entry{sch: cur, trig: trig, index: -1}
	e.next, _ = trig.Next(base)
	return s.writeDue(ctx, e, until)
}

// apply makes the entry of sch match it.
func (f *fireLoop) apply(sch *store.Schedule) {
	old := f.entries[sch.ID]
	if old != nil && old.sch.Version >= sch.Version {
		return
	}
	if sch.Paused {
		f.retire(old, sch.UpdatedAt)
		f.remove(sch.ID)
		return
	}
	trig, err := f.s.triggers.compile(sch)
	if err != nil {
		// Stored by another version or written around the scheduler.
		level.Error(f.s.logger).Log("msg", "schedule has an invalid trigger; not firing it", "schedule_id", sch.ID, "err", err)
		f.remove(sch.ID)
		return
	}
	e := &entry{sch: sch, trig: trig, storedNext: sch.NextRunAt, index: -1}
	switch {
	case old != nil && old.sch.Trigger == sch.Trigger:
		e.next = old.next
		// A resume this node did not see as such (a pause and a resume
		// read at once) moved the last fired tick past the paused stretch.
		if n, ok := trig.Next(sch.LastFiredAt); ok && !sch.LastFiredAt.IsZero() && !e.next.IsZero() && n.After(e.next) {
			e.next = n
		}
	default:
		// Ticks are due from the last one fired (the API moves it to the
		// moment of a resume or of a change of trigger, so a paused
		// stretch is not caught up), else from the schedule's creation.
		base := sch.LastFiredAt
		if base.IsZero() {
			base = sch.CreatedAt
		}
		if old != nil && sch.UpdatedAt.After(base) {
			base = sch.UpdatedAt // the trigger changed under a running node
		}
		e.next, _ = trig.Next(base)
		f.retire(old, sch.UpdatedAt)
	}
	if e.next.IsZero() {
		// No fire time left (a one-off that fired, an end passed): a
		// notification of its last write must not bring it back.
		f.remove(sch.ID)
		return
	}
	if old != nil && old.index >= 0 {
		heap.Remove(&f.queue, old.index)
	}
	f.entries[sch.ID] = e
	f.queue.set(e)
	f.setCount()
}

// pass enqueues the ticks of every schedule due by now (read before the
// schedules were), in batches, and moves each schedule's next tick past
// now. It also sets the store's NextRunAt where it is stale: of every
// schedule with all, else of the schedules changed. When the store fails,
// nothing moves and the caller tries again. With sw, now is a moment to
// come and the ticks are staged: written at once, committed when its
// release returns.
func (f *fireLoop) pass(ctx context.Context, now time.Time, all bool, changed map[string]struct{}, sw *stagedWrite) error {
	if sw == nil {
		if err := f.flushRetired(ctx); err != nil {
			return err
		}
	}
	type move struct {
		e    *entry
		next time.Time
	}
	var moves []move
	var params []*store.RunEnqueueParams
	var times []*store.ScheduleSetTimesParams
	visit := func(e *entry) {
		if e.next.IsZero() || e.next.After(now) {
			if !e.next.Equal(e.storedNext) && !e.next.IsZero() {
				times = append(times, &store.ScheduleSetTimesParams{ID: e.sch.ID, NextRunAt: ptr(e.next)})
				moves = append(moves, move{e, e.next})
			}
			return
		}
		ticks, last, next := f.s.due(e, now)
		moves = append(moves, move{e, next})
		for i, t := range ticks {
			p := f.s.tickParams(e, t)
			if i == len(ticks)-1 {
				p.NextRunAt = next
			}
			params = append(params, p)
		}
		if len(ticks) == 0 || next.IsZero() {
			// Nothing enqueued (all missed and skipped), or no fire time
			// left: the store's times are set here.
			p := &store.ScheduleSetTimesParams{ID: e.sch.ID, NextRunAt: ptr(next)}
			if len(ticks) == 0 {
				p.LastFiredAt = ptr(last)
			}
			times = append(times, p)
		}
	}
	if all {
		for _, e := range f.entries {
			visit(e)
		}
	} else {
		due := f.queue.dueAt(now)
		for _, e := range due {
			visit(e)
		}
		for id := range changed {
			if e := f.entries[id]; e != nil && !slices.Contains(due, e) {
				visit(e)
			}
		}
	}
	if err := f.enqueue(ctx, params, sw); err != nil {
		return err
	}
	for _, p := range times {
		if _, err := f.s.st.ScheduleSetTimes(ctx, p); err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("set schedule times: %w", err)
		}
	}
	for _, m := range moves {
		m.e.next, m.e.storedNext = m.next, m.next
		if m.next.IsZero() {
			f.remove(m.e.sch.ID)
			continue
		}
		f.queue.set(m.e)
	}
	return nil
}

// enqueue inserts the ticks of a pass. A large batch is split by schedule
// into parts inserted at once on separate connections: the parts lock
// disjoint schedules, and a server with several cores takes them in
// parallel. Staged ticks (sw set) are one call, one transaction: on a
// database with one writer, parts would wait for each other's release.
func (f *fireLoop) enqueue(ctx context.Context, params []*store.RunEnqueueParams, sw *stagedWrite) error {
	if len(params) == 0 {
		return nil
	}
	spans := f.s.traceTicks(ctx, params)
	if sw != nil {
		var claim *store.RunClaimParams
		wctx := ctx
		if c := sw.claim; c != nil {
			claim = &c.params
			// A claiming write is not cut short by the node stopping
			// once its release has returned (the release still is, on
			// the loop's context, and rolls the write back): a commit
			// that landed after its caller gave up would leave runs
			// claimed by a node that never starts them. As the claim
			// loop's claims.
			var cancel context.CancelFunc
			wctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), stageLeadMax+claimTimeout)
			defer cancel()
		}
		res, err := f.s.st.RunEnqueueStaged(wctx, sw.release, claim, params...)
		f.s.tracedTicks(spans, params, res, err)
		if c := sw.claim; c != nil {
			if err == nil {
				now := f.s.clock.Now()
				f.s.work.startClaimed(res, c.sent, now, since(now, c.released))
			}
			c.giveBack(f.s.work)
		}
		f.enqueued(params, res, err)
		f.stagedNew = 0
		for _, r := range res {
			if !r.Duplicate {
				f.stagedNew++
			}
		}
		if err != nil {
			return fmt.Errorf("enqueue ticks: %w", err)
		}
		return nil
	}
	parts := min(enqueueParallel, (len(params)+enqueuePartMin-1)/enqueuePartMin)
	groups := make([][]*store.RunEnqueueParams, parts)
	for _, p := range params { // params of one schedule are adjacent
		g := int(fnv32(p.ScheduleID) % uint32(parts))
		groups[g] = append(groups[g], p)
	}
	errs := make([]error, parts)
	var wg sync.WaitGroup
	for i, g := range groups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for len(g) > 0 {
				n := min(len(g), enqueueChunk)
				res, err := f.s.st.RunEnqueue(ctx, g[:n]...)
				f.s.tracedTicks(spans, g[:n], res, err)
				f.enqueued(g[:n], res, err)
				if err != nil {
					f.s.tracedTicks(spans, g[n:], nil, err) // not written either
					errs[i] = fmt.Errorf("enqueue ticks: %w", err)
					return
				}
				g = g[n:]
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// enqueued logs the ticks params enqueued (res), or, when a schedule went
// away (err), has the schedules of params re-read before the retry, so
// that the others fire.
func (f *fireLoop) enqueued(params []*store.RunEnqueueParams, res []*store.EnqueueResult, err error) {
	if errors.Is(err, store.ErrNotFound) {
		for _, p := range params {
			f.changed(p.ScheduleID)
		}
	}
	if err != nil {
		return
	}
	f.s.logTicks(params, res)
	f.s.observeTicks(params, res)
}

// traceTicks tells the Tracer, if any, of the fire of each tick of params
// under ctx, and keeps the trace context of each tick's context with its
// run; it returns the ticks' contexts, nil without a Tracer. Each tick is
// traced on its own: the fire of a tick begins the trace of its run.
func (s *Scheduler) traceTicks(ctx context.Context, params []*store.RunEnqueueParams) map[*store.RunEnqueueParams]context.Context {
	if s.tracer == nil {
		return nil
	}
	spans := make(map[*store.RunEnqueueParams]context.Context, len(params))
	for _, p := range params {
		spans[p] = s.startEnqueue(ctx, tickWork(p), p)
	}
	return spans
}

// tracedTicks tells the Tracer how the write of the ticks params, begun
// by traceTicks (spans), ended: res, or err.
func (s *Scheduler) tracedTicks(spans map[*store.RunEnqueueParams]context.Context, params []*store.RunEnqueueParams, res []*store.EnqueueResult, err error) {
	if spans == nil {
		return
	}
	for i, p := range params {
		ctx, ok := spans[p]
		if !ok {
			continue
		}
		o := &EnqueueObserved{Work: tickWork(p), Err: err, Context: ctx}
		if err == nil && i < len(res) {
			o.Run, o.Duplicate = res[i].Run, res[i].Duplicate
		}
		s.observer.Observe(o)
	}
}

// tickWork is the EnqueueWork of tick p.
func tickWork(p *store.RunEnqueueParams) EnqueueWork {
	return EnqueueWork{Kind: store.RunKindSchedule, Agent: p.Agent, ScheduleID: p.ScheduleID, ScheduledFor: p.ScheduledFor}
}

// observeTicks tells the Observer of the ticks of params that res wrote
// (not duplicates), committed now: one observation per tick time.
func (s *Scheduler) observeTicks(params []*store.RunEnqueueParams, res []*store.EnqueueResult) {
	if _, nop := s.observer.(nopObserver); nop {
		return
	}
	now := s.clock.Now()
	var groups []TicksObserved
	index := map[int64]int{} // groups by tick time
	for j, r := range res {
		if r.Duplicate {
			continue
		}
		t := params[j].ScheduledFor
		k, ok := index[t.UnixNano()]
		if !ok {
			k = len(groups)
			index[t.UnixNano()] = k
			groups = append(groups, TicksObserved{ScheduledFor: t, CommittedAt: now, Lateness: since(now, t)})
		}
		groups[k].Count++
	}
	for i := range groups {
		s.observer.Observe(&groups[i])
	}
}

// logTicks logs the ticks of params that res wrote (not duplicates).
func (s *Scheduler) logTicks(params []*store.RunEnqueueParams, res []*store.EnqueueResult) {
	if s.debug == nil {
		return
	}
	for j, r := range res {
		if !r.Duplicate {
			s.debug.Log("msg", "tick enqueued", "schedule_id", params[j].ScheduleID,
				"tick", params[j].ScheduledFor.Format(time.RFC3339), "run_id", r.Run.ID, "status", r.Run.Status)
		}
	}
}

// stagedWrite is the write of a staged pass: release commits it, at its
// moment; claim, when set, is its claim.
type stagedWrite struct {
	release func(context.Context) error
	claim   *stagedClaim
}

// stagedClaim is the claim of a staged write: its ticks commit claimed by
// this node, up to the workers reserved for them (params.Limit), and start
// at once, without a claim after the commit.
type stagedClaim struct {
	params store.RunClaimParams
	// sent is when the write was sent, on the system clock: the leases run
	// from a time after it (workers.guardAt).
	sent time.Time
	// released is when the release returned, on the engine's clock.
	released time.Time
	// reserved are the workers set aside for the claim (workers.reserve),
	// until giveBack.
	reserved int
}

// giveBack returns the workers reserved for the claim, once its runs
// started (or it failed): the workers past them go back to the claim loop,
// for the ticks past the claim's limit among others, at once rather than
// once the pass has done its bookkeeping (a write per one-off schedule
// fired: 10,000 of them kept 9,000 ticks waiting about 10 s). A second call
// does nothing.
func (c *stagedClaim) giveBack(w *workers) {
	if c.reserved == 0 {
		return
	}
	w.unreserve(c.reserved)
	c.reserved = 0
	w.wake()
}

// leadFor is how long ahead of their moment n ticks are written: twice
// the time they are expected to take, and stageLeadMin.
func (f *fireLoop) leadFor(n int) time.Duration {
	return min(2*time.Duration(n)*f.tickCost+stageLeadMin, stageLeadMax)
}

// stage writes the ticks of the next moment, when it is no further than
// their lead away, and commits them when it comes, so that they are there
// at the moment rather than once written. The cost of a tick then follows
// the time the writes took, unless another node had written them all:
// that write waited for the other's locks, and would drive the nodes'
// leads up in turn. On SQLite the staged transaction holds the writer
// from the end of the writes to the moment, about as long as they took.
func (f *fireLoop) stage(ctx context.Context) error {
	if !f.staged || len(f.queue) == 0 {
		return nil
	}
	start := time.Now()
	at := f.queue[0].next
	n := f.queue.countDue(at)
	if !at.After(start) || at.Sub(start) > f.leadFor(n) {
		return nil
	}
	// The ticks free to start commit claimed by this node, for as many
	// as it has free workers: they start the moment they commit, rather
	// than once a claim after the commit has taken them. Not when the
	// moment is over a third of the lease away: the lease runs from the
	// write's start.
	sw := &stagedWrite{}
	cfg := f.s.cfg
	if at.Sub(start) <= cfg.Lease/3 {
		if k := f.s.work.reserve(n); k > 0 {
			sw.claim = &stagedClaim{params: store.RunClaimParams{Node: cfg.Node, Limit: k, Lease: cfg.Lease}, sent: start, reserved: k}
			// Given back by enqueue as soon as the claimed runs started;
			// here when the write never returned a claim.
			defer sw.claim.giveBack(f.s.work)
		}
	}
	var wrote time.Duration
	// The release waits on the loop's context, not the store's (which a
	// claiming write detaches from the node's stop: enqueue).
	sw.release = func(context.Context) error {
		wrote = time.Since(start)
		t := time.NewTimer(time.Until(at))
		defer t.Stop()
		select {
		case <-t.C:
			if sw.claim != nil {
				sw.claim.released = f.s.clock.Now()
			}
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f.stagedNew = 0
	err := f.pass(ctx, at, false, nil, sw)
	if wrote > 0 && (err != nil || f.stagedNew > 0) { // n > 0: at is the head's
		cost := wrote / time.Duration(n)
		if cost < f.tickCost {
			cost = f.tickCost - (f.tickCost-cost)/4 // down slowly, up at once
		}
		f.tickCost = cost
	}
	return err
}

// arm sets the timer to the moment the loop must look next: the earliest
// tick of the due heap, less the lead when ticks are staged (at once when
// less than the lead is left), or, after a failed pass (failed), the retry
// a poll interval later unless a tick comes first; a failed pass leaves
// staging to the moment. The timer runs on the system clock: the alarm is
// set as far ahead as the moment is on the engine's clock.
func (f *fireLoop) arm(failed bool) {
	now := f.s.clock.Now()
	var at time.Time
	if len(f.queue) > 0 {
		at = f.queue[0].next
		if f.staged {
			switch early := at.Add(-f.leadFor(f.queue.countDue(at))); {
			case early.After(now):
				at = early
			case !failed && at.After(now):
				at = now
			}
		}
	}
	if failed {
		if retry := now.Add(f.s.cfg.PollInterval); at.IsZero() || !at.After(now) || at.After(retry) {
			at = retry
		}
	}
	var wake time.Time
	if !at.IsZero() {
		wake = time.Now().Add(max(at.Sub(now), 0))
	}
	f.alarm.set(wake)
	f.timer.Reset()
}

func fnv32(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}

// due returns the ticks of e to enqueue at now, by its misfire policy, the
// latest due tick (enqueued or not), and the first fire time after now (zero
// when none).
func (s *Scheduler) due(e *entry, now time.Time) (ticks []time.Time, last, next time.Time) {
	threshold := s.cfg.MisfireThreshold
	keep := 0 // missed ticks to keep, the latest ones
	switch e.sch.Misfire {
	case store.MisfireRunAll:
		keep = e.sch.MisfireCap
		if keep == 0 {
			keep = s.cfg.MisfireCap
		}
	case store.MisfireRunOnce, "":
		keep = 1
	}
	var missed, onTime []time.Time
	t, ok, scanned := e.next, true, 0
	for ok && !t.After(now) {
		last = t
		if now.Sub(t) <= threshold {
			onTime = append(onTime, t)
		} else if keep > 0 {
			if len(missed) == keep {
				missed = append(missed[:0], missed[1:]...)
			}
			missed = append(missed, t)
		}
		if scanned++; scanned == maxMissedScan {
			t, ok = e.trig.Next(now.Add(-threshold - time.Nanosecond))
			continue
		}
		t, ok = e.trig.Next(t)
	}
	if !ok {
		t = time.Time{}
	}
	if len(missed) > 0 && e.sch.Misfire != store.MisfireRunAll && len(onTime) > 0 {
		missed = nil // run_once: the on-time run stands for the missed ones
	}
	if len(missed) > 0 {
		level.Info(s.logger).Log("msg", "misfired ticks", "schedule_id", e.sch.ID, "policy", e.sch.Misfire, "running", len(missed))
	}
	return append(missed, onTime...), last, t
}

// tickParams is the run of e's tick t.
func (s *Scheduler) tickParams(e *entry, t time.Time) *store.RunEnqueueParams {
	sch := e.sch
	p := &store.RunEnqueueParams{
		Kind:         store.RunKindSchedule,
		ScheduleID:   sch.ID,
		ScheduledFor: t,
		Owner:        sch.Owner,
		Agent:        sch.Agent,
		Payload:      sch.Payload,
		Targets:      sch.Targets,
		MaxAttempts:  s.maxAttempts(sch.MaxAttempts),
		Timeout:      sch.Timeout,
	}
	if j := sch.Trigger.Jitter; j > 0 {
		p.RunAt = t.Add(rand.N(j))
	}
	return p
}

func ptr[T any](v T) *T { return &v }
