package scheduler

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-kit/log/level"

	"github.com/heraldhq/herald/agent"
	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/internal/gopool"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/store/storekit"
)

// abandonAfter is how long a worker waits for an agent that ignores its
// cancelled context before it records the run's end without it (the
// scheduler's abandonAfter, which tests shorten).
const abandonAfter = 2 * time.Second

// claimTimeout bounds one claim, which Stop does not interrupt.
const claimTimeout = 5 * time.Second

// finishBatchMax is the most outcomes recorded by one store call.
const finishBatchMax = 1000

// workers claims due runs and executes them.
type workers struct {
	s *Scheduler

	// abandoned counts the agents that ignored their cancelled context
	// and were left running.
	abandoned atomic.Int64

	runCtx  context.Context // the parent of every run's context
	runStop context.CancelCauseFunc

	mu   sync.Mutex // guards held, reserved, pending and recent
	held map[string]*execution
	// reserved counts the workers set aside for staged ticks that commit
	// claimed by this node (reserve): they count as busy.
	reserved int
	// pending are runs whose attempt ended and whose outcome is not yet
	// recorded: their leases are still extended, so a slow store (or a
	// fake clock moving) cannot get them rescued and run twice.
	pending map[string]*outcome
	// claimMu is held from a claim to its runs' registration in held, so
	// that extendClaimed sees every run this node has claimed.
	claimMu sync.Mutex
	execWG  sync.WaitGroup
	// pool runs the executions: a goroutine reused from run to run grows
	// its stack as deep as agents go once, not once per run.
	pool *gopool.Pool

	// recordCtx bounds the recording of outcomes: it ends when Stop's
	// context does, after which outcomes are dropped (their leases expire
	// and the runs are rescued).
	recordCtx  context.Context
	recordStop context.CancelFunc

	recent map[string]time.Time // cancellations of runs not (yet) executing here, by run id

	wakeCh   chan struct{}
	freedCh  chan struct{}
	done     chan *outcome
	finishWG sync.WaitGroup // the finisher
	leaseWG  sync.WaitGroup // the lease keeper
	leaseCh  chan struct{}  // closed to stop the lease keeper
}

// execution is a run executing on this node.
type execution struct {
	run    *store.Run
	cancel context.CancelCauseFunc
	// guard stops the run when its lease was not extended in time (see
	// guardAt and guardFired); every extension moves it.
	guard *time.Timer
	// claim is the run's RunClaimObserved, kept here so that observing
	// it allocates nothing.
	claim RunClaimObserved
}

// guardAt is when a run whose lease was last granted by a call sent at
// sent must stop, unless the lease was extended since: a sixth of the
// lease before it can lapse. The lease runs from the store's clock when
// the call reached it, which is after sent, so at guardAt the lease still
// holds, and no other node can have been given the run while it executes
// here, whatever this node's clock says.
func (w *workers) guardAt(sent time.Time) time.Time {
	lease := w.s.cfg.Lease
	return sent.Add(lease - lease/6)
}

// outcome is how an attempt ended, to be recorded.
type outcome struct {
	finish  *store.RunFinishParams
	requeue *store.RunRequeueParams
	targets []store.Target // extra targets from the agent's result
	// run is the run as claimed for the attempt, and took how long the
	// attempt took on the engine's clock (for the Observer).
	run  *store.Run
	took time.Duration
	// ctx is the context the attempt ran under, handed to the Observer
	// (AttemptObserved.Context) for the values a Tracer put in it; it is
	// never used to run anything.
	ctx context.Context
	// attempt and end are the observations of the attempt's end and the
	// run's, kept here so that observing them allocates nothing.
	attempt AttemptObserved
	end     RunEndObserved
}

func newWorkers(s *Scheduler) *workers {
	runCtx, runStop := context.WithCancelCause(context.Background())
	recordCtx, recordStop := context.WithCancel(context.Background())
	w := &workers{
		s: s, runCtx: runCtx, runStop: runStop, recordCtx: recordCtx, recordStop: recordStop,
		held:    map[string]*execution{},
		pending: map[string]*outcome{},
		recent:  map[string]time.Time{},
		wakeCh:  make(chan struct{}, 1),
		freedCh: make(chan struct{}, 1),
		done:    make(chan *outcome, 2*s.cfg.Workers),
		leaseCh: make(chan struct{}),
		pool:    gopool.New(),
	}
	w.finishWG.Add(1)
	go func() {
		defer w.finishWG.Done()
		w.finishLoop()
	}()
	w.leaseWG.Add(1)
	go func() {
		defer w.leaseWG.Done()
		w.leaseLoop()
	}()
	return w
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// wake tells the claim loop that runs may be due.
func (w *workers) wake() { signal(w.wakeCh) }

func (w *workers) active() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.held) + w.reserved
}

// reserve sets aside up to n free workers for runs that a staged write
// claims as it commits, and returns how many it set aside; unreserve gives
// them back once the write returned.
func (w *workers) reserve(n int) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	k := max(0, min(n, w.s.cfg.Workers-len(w.held)-w.reserved))
	w.reserved += k
	return k
}

// unreserve gives back k workers reserve set aside, once the runs they
// were for started.
func (w *workers) unreserve(k int) {
	w.mu.Lock()
	w.reserved -= k
	w.mu.Unlock()
}

// startClaimed starts the runs of res that a staged write sent at sent
// (on the system clock) committed claimed by this node at committed (on
// the engine's), the commit having taken took; their workers were
// reserved. Their leases ran from the write's start: when the write took
// over a third of the lease (a lock waited for, a slow disk), they are
// extended first, as a claim now would grant them, and a run this node no
// longer holds (rescued meanwhile by another node) is not started.
func (w *workers) startClaimed(res []*store.EnqueueResult, sent, committed time.Time, took time.Duration) {
	var runs []*store.Run
	for _, e := range res {
		if r := e.Run; !e.Duplicate && r.Status == store.RunRunning && r.LeaseOwner == w.s.cfg.Node {
			runs = append(runs, r)
		}
	}
	if len(runs) == 0 {
		return
	}
	if time.Since(sent) <= w.s.cfg.Lease/3 {
		for _, r := range runs {
			w.start(r, sent, committed, took)
		}
		return
	}
	byID := make(map[string]*store.Run, len(runs))
	ids := make([]string, len(runs))
	for i, r := range runs {
		byID[r.ID], ids[i] = r, r.ID
	}
	w.extendLeases(ids, claimTimeout, func(ids []string, again time.Time, leases []*store.RunLease, err error) {
		if err != nil {
			// Not started: their leases lapse and any node rescues them.
			level.Warn(w.s.logger).Log("msg", "extend the leases of staged runs that committed late; leaving them to be rescued", "runs", len(ids), "err", err)
			return
		}
		for _, l := range leases {
			if l.LeaseExpiresAt.IsZero() { // being written at that moment: the guard extends it at once
				w.start(byID[l.ID], sent, committed, took)
			} else {
				w.start(byID[l.ID], again, committed, took)
			}
		}
	})
}

// extendLeases extends the leases this node holds on ids, in calls of at
// most store.ListLimitMax runs, each within timeout, and hands each call's
// ids, the time it was sent and its outcome to done.
func (w *workers) extendLeases(ids []string, timeout time.Duration, done func(ids []string, sent time.Time, leases []*store.RunLease, err error)) {
	for len(ids) > 0 {
		n := min(len(ids), store.ListLimitMax)
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		sent := time.Now()
		leases, err := w.s.st.RunExtendLease(ctx, &store.RunExtendLeaseParams{Node: w.s.cfg.Node, IDs: ids[:n], Lease: w.s.cfg.Lease})
		cancel()
		done(ids[:n], sent, leases, err)
		ids = ids[n:]
	}
}

// recentCancelTTL is how long a cancellation of a run that does not
// execute here is remembered, for a claim that raced with it.
const recentCancelTTL = time.Minute

// cancel ends the context of run id with cause, if it executes here; a
// cancellation of a run not (yet) executing here is remembered a while, in
// case the run was claimed just before the cancellation was asked for.
func (w *workers) cancel(id string, cause error) {
	w.mu.Lock()
	e := w.held[id]
	if e == nil && errors.Is(cause, errCancelled) {
		now := time.Now()
		for k, t := range w.recent {
			if now.Sub(t) > recentCancelTTL {
				delete(w.recent, k)
			}
		}
		w.recent[id] = now
	}
	w.mu.Unlock()
	if e != nil {
		e.cancel(cause)
	}
}

// claimLoop claims due runs while there are free workers.
func (w *workers) claimLoop(ctx context.Context) {
	cfg := w.s.cfg
	poll := time.NewTicker(cfg.PollInterval)
	defer poll.Stop()
	// Claiming for one freed worker at a time would cost a statement per
	// run; below claimMin free workers the claim waits a moment for more.
	claimMin := max(1, cfg.Workers/4)
	cooldown := time.NewTimer(time.Hour)
	cooldown.Stop()
	defer cooldown.Stop()
	maybe, cooling := true, false
	for {
		if maybe && ctx.Err() == nil {
			free := cfg.Workers - w.active()
			switch {
			case free >= claimMin || (free > 0 && !cooling):
				cooling = false
				// The workers of the claim are reserved while it is in
				// flight, so that a staged write's claim meanwhile
				// (reserve) does not count them as free.
				n := w.reserve(min(free, ClaimBatchMax))
				if n == 0 {
					break
				}
				// A claim is not cancelled half-way by the node stopping:
				// a claim that committed after its caller gave up would
				// leave runs held by no one until their lease expires.
				cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), claimTimeout)
				w.claimMu.Lock()
				sent, began := time.Now(), w.s.clock.Now()
				runs, err := w.s.st.RunClaim(cctx, &store.RunClaimParams{Node: cfg.Node, Limit: n, Lease: cfg.Lease})
				claimed := w.s.clock.Now()
				for _, r := range runs {
					w.start(r, sent, claimed, since(claimed, began))
				}
				w.unreserve(n)
				w.claimMu.Unlock()
				cancel()
				if err != nil {
					if ctx.Err() == nil {
						level.Warn(w.s.logger).Log("msg", "claim runs", "err", err)
					}
					maybe = false
					break
				}
				maybe = len(runs) == n
				if maybe && free == n && free < claimMin {
					cooling = true
					cooldown.Reset(5 * time.Millisecond)
				}
			case free > 0:
				// cooling: wait for more free workers or the cooldown.
			}
		}
		var freed chan struct{}
		if maybe {
			freed = w.freedCh
		}
		select {
		case <-ctx.Done():
			return
		case <-w.wakeCh:
			maybe = true
		case <-freed:
		case <-cooldown.C:
			cooling = false
		case <-poll.C:
			maybe = true
		}
	}
}

// start executes r, whose lease was granted by a claim sent at sent (on
// the system clock) that returned at claimed (on the engine's) and took
// took.
func (w *workers) start(r *store.Run, sent, claimed time.Time, took time.Duration) {
	ctx, cancel := context.WithCancelCause(w.runCtx)
	e := &execution{run: r, cancel: cancel}
	e.guard = time.AfterFunc(time.Until(w.guardAt(sent)), func() { w.guardFired(e) })
	w.mu.Lock()
	w.held[r.ID] = e
	if _, ok := w.recent[r.ID]; ok {
		delete(w.recent, r.ID)
		cancel(errCancelled)
	}
	w.mu.Unlock()
	w.execWG.Add(1)
	w.pool.Go(func() {
		defer w.execWG.Done()
		e.claim = RunClaimObserved{Run: r, ClaimedAt: claimed, Lateness: since(claimed, r.RunAt),
			ClaimTook: took, Node: w.s.cfg.Node}
		w.s.observer.Observe(&e.claim)
		actx := ctx
		if t := w.s.tracer; t != nil {
			actx = t.Start(ctx, AttemptWork{Run: r, Node: w.s.cfg.Node, ClaimTook: took})
		}
		clock := w.s.clock
		began := clock.Now()
		out := w.execute(actx, r)
		took := since(clock.Now(), began)
		e.guard.Stop()
		if out != nil {
			out.run, out.took, out.ctx = r, took, actx
			w.s.deliver.prepare(r, out)
		} else {
			w.s.observer.Observe(&AttemptObserved{Run: r, Attempt: r.Attempt, Outcome: AttemptLeaseLost, Duration: took, Context: actx})
		}
		cancel(nil)
		w.mu.Lock()
		delete(w.held, r.ID)
		if out != nil {
			w.pending[r.ID] = out
		}
		w.mu.Unlock()
		signal(w.freedCh)
		if out != nil {
			w.done <- out
		}
	})
}

func (o *outcome) runID() string {
	if o.finish != nil {
		return o.finish.ID
	}
	return o.requeue.ID
}

// attempt is what an agent returned.
type attempt struct {
	res      *agent.Result
	err      error
	panicked bool
}

// execute runs r's agent and says how the attempt ended (nil when the run
// is no longer this node's to record).
func (w *workers) execute(ctx context.Context, r *store.Run) *outcome {
	s := w.s
	ag, err := s.cfg.Agents.Lookup(r.Agent)
	if err != nil {
		return w.failed(r, fmt.Sprintf("unknown agent %q", r.Agent))
	}
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = s.cfg.DefaultTimeout
	}
	if max := s.cfg.Policy.MaxTimeout; max > 0 && timeout > max {
		timeout = max
	}
	tctx, stop := context.WithTimeoutCause(ctx, timeout, errTimedOut)
	defer stop()
	task, err := w.task(tctx, r)
	if err != nil {
		if cause := context.Cause(tctx); cause != nil {
			return w.ended(r, cause, timeout)
		}
		return w.retryOrFail(r, err)
	}
	started := time.Now()
	ch := make(chan attempt, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				level.Error(s.logger).Log("msg", "agent panicked", "run_id", r.ID, "agent", r.Agent, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				ch <- attempt{err: fmt.Errorf("agent panicked: %v", p), panicked: true}
			}
		}()
		res, err := ag.Run(tctx, task)
		ch <- attempt{res: res, err: err}
	}()
	var a attempt
	select {
	case a = <-ch:
	case <-tctx.Done():
		select {
		case a = <-ch:
		case <-time.After(s.abandonAfter):
			w.abandoned.Add(1)
			level.Warn(s.logger).Log("msg", "agent ignores its cancelled context; recording the run without it",
				"run_id", r.ID, "agent", r.Agent, "cause", context.Cause(tctx))
		}
	}
	if cause := context.Cause(tctx); cause != nil {
		return w.ended(r, cause, timeout)
	}
	if s.debug != nil {
		s.debug.Log("msg", "attempt ended", "run_id", r.ID, "agent", r.Agent, "attempt", r.Attempt,
			"took", time.Since(started), "err", a.err)
	}
	switch {
	case a.panicked:
		return w.failed(r, a.err.Error())
	case a.err != nil:
		return w.retryOrFail(r, a.err)
	}
	out := &outcome{finish: &store.RunFinishParams{ID: r.ID, Node: s.cfg.Node, Status: store.RunSucceeded}}
	if a.res != nil {
		out.finish.Output, out.finish.Summary = a.res.Output, a.res.Summary
		if _, err := storekit.PrepareFinish(out.finish, s.limits, ""); err != nil {
			return w.failed(r, fmt.Sprintf("the agent's result was refused: %v", err))
		}
		for _, t := range a.res.Targets {
			if strings.TrimSpace(t.Channel) == "" {
				level.Warn(s.logger).Log("msg", "extra delivery target without a channel dropped", "run_id", r.ID, "agent", r.Agent)
				continue
			}
			t.On = delivery.OnAlways // the run succeeded: the only outcome its result's targets see
			out.targets = append(out.targets, t)
		}
	}
	return out
}

// ended is the outcome of an attempt whose context ended with cause.
func (w *workers) ended(r *store.Run, cause error, timeout time.Duration) *outcome {
	node := w.s.cfg.Node
	switch {
	case errors.Is(cause, errShutdown):
		return &outcome{requeue: &store.RunRequeueParams{ID: r.ID, Node: node, Error: "node stopped during the attempt; released"}}
	case errors.Is(cause, errLeaseLost):
		level.Warn(w.s.logger).Log("msg", "lease lost; the run is no longer this node's", "run_id", r.ID)
		return nil
	case errors.Is(cause, errCancelled):
		return &outcome{finish: &store.RunFinishParams{ID: r.ID, Node: node, Status: store.RunCancelled, Error: "cancelled"}}
	default:
		return &outcome{finish: &store.RunFinishParams{ID: r.ID, Node: node, Status: store.RunTimedOut,
			Error: fmt.Sprintf("timed out after %v", timeout)}}
	}
}

func (w *workers) failed(r *store.Run, msg string) *outcome {
	return &outcome{finish: &store.RunFinishParams{ID: r.ID, Node: w.s.cfg.Node, Status: store.RunFailed, Error: msg}}
}

// retryOrFail retries r after err, or fails it when the attempts are spent
// or the agent said not to retry.
func (w *workers) retryOrFail(r *store.Run, err error) *outcome {
	if agent.IsPermanent(err) || r.Attempt >= r.MaxAttempts {
		return w.failed(r, err.Error())
	}
	delay, ok := agent.RetryDelay(err)
	if !ok {
		delay = backoff(w.s.cfg.Retry, r.Attempt)
	}
	// The delay counts on the store's clock, which every node's claims
	// compare with, not on this node's.
	return &outcome{requeue: &store.RunRequeueParams{ID: r.ID, Node: w.s.cfg.Node, NextAttempt: true,
		Delay: delay, Error: err.Error()}}
}

// backoff is the delay after attempt n (1-based) fails: Base·2^(n-1),
// capped at Max, less a random part of up to half of it.
func backoff(p RetryPolicy, n int) time.Duration {
	d := p.Base
	for i := 1; i < n && d < p.Max; i++ {
		d *= 2
	}
	d = min(d, p.Max)
	if half := d / 2; half > 0 {
		d -= rand.N(half)
	}
	return d
}

// task builds the agent's view of r.
func (w *workers) task(ctx context.Context, r *store.Run) (*agent.Task, error) {
	s := w.s
	t := &agent.Task{
		RunID: r.ID, Owner: r.Owner, Agent: r.Agent, ScheduleID: r.ScheduleID, Payload: r.Payload,
		Kind: agent.RunKind(r.Kind), ScheduledFor: r.ScheduledFor, Attempt: r.Attempt, MaxAttempts: r.MaxAttempts,
		Progress: agent.ReporterFunc(func(ctx context.Context, counters map[string]int64) error {
			return s.st.RunProgress(ctx, &store.RunProgressParams{ID: r.ID, Node: s.cfg.Node, Progress: counters})
		}),
	}
	if r.EventID != "" {
		ev, err := s.st.EventGet(ctx, r.EventID)
		if err != nil {
			return nil, fmt.Errorf("read the run's webhook event: %w", err)
		}
		t.Event = &agent.Event{ID: ev.ID, Source: ev.Source, DeliveryID: ev.DeliveryID, Headers: ev.Headers, Body: ev.Body, ReceivedAt: ev.ReceivedAt}
	}
	return t, nil
}

// finishLoop records outcomes in batches until done is closed.
func (w *workers) finishLoop() {
	for o := range w.done {
		batch := []*outcome{o}
	fill:
		for len(batch) < finishBatchMax {
			select {
			case o, ok := <-w.done:
				if !ok {
					break fill
				}
				batch = append(batch, o)
			default:
				break fill
			}
		}
		w.record(batch)
	}
}

// record writes a batch of outcomes, retrying while the store is
// unavailable, and hands finished runs to delivery.
func (w *workers) record(batch []*outcome) {
	defer func() {
		w.mu.Lock()
		for _, o := range batch {
			id := o.runID()
			if w.pending[id] == o { // not a later attempt's
				delete(w.pending, id)
			}
		}
		w.mu.Unlock()
	}()
	var fins []*store.RunFinishParams
	var reqs []*store.RunRequeueParams
	var finOut []*outcome
	for _, o := range batch {
		if o.finish != nil {
			fins = append(fins, o.finish)
			finOut = append(finOut, o)
		} else {
			reqs = append(reqs, o.requeue)
		}
	}
	if len(fins) > 0 {
		var runs []*store.Run
		err := w.retry("record finished runs", func(ctx context.Context) (err error) {
			runs, err = w.s.st.RunFinish(ctx, fins...)
			return err
		})
		var errs []error // by entry, when recorded one by one
		if errors.Is(err, store.ErrInvalid) {
			// One entry the store refuses must not sink the others.
			runs, err, errs = make([]*store.Run, len(fins)), nil, make([]error, len(fins))
			for i, f := range fins {
				rs, ferr := w.recordOne(f)
				if len(rs) == 1 {
					runs[i] = rs[0]
				}
				errs[i] = ferr
				err = errors.Join(err, ferr)
			}
		}
		for i, r := range runs {
			if r == nil {
				continue
			}
			if w.s.debug != nil {
				w.s.debug.Log("msg", "run ended", "run_id", r.ID, "status", r.Status)
			}
			w.s.deliver.enqueue(r, finOut[i].targets)
		}
		if err != nil {
			level.Warn(w.s.logger).Log("msg", "runs not recorded; their leases will expire and they will run again", "err", err)
		}
		for i, o := range finOut {
			entryErr := err
			if errs != nil {
				entryErr = errs[i]
			}
			w.observe(o, at(runs, i), entryErr)
		}
	}
	if len(reqs) > 0 {
		var runs []*store.Run
		err := w.retry("requeue runs", func(ctx context.Context) (err error) {
			runs, err = w.s.st.RunRequeue(ctx, reqs...)
			return err
		})
		for _, r := range runs {
			// A run whose cancellation was requested ends instead.
			if r != nil && r.Status.Terminal() {
				if w.s.debug != nil {
					w.s.debug.Log("msg", "run ended", "run_id", r.ID, "status", r.Status)
				}
				w.s.deliver.enqueue(r, nil)
			}
		}
		if err != nil {
			level.Warn(w.s.logger).Log("msg", "runs not requeued; their leases will expire and they will be rescued", "err", err)
		}
		i := 0
		for _, o := range batch {
			if o.requeue != nil {
				w.observe(o, at(runs, i), err)
				i++
			}
		}
	}
}

// at is runs[i], or nil when runs is shorter.
func at(runs []*store.Run, i int) *store.Run {
	if i < len(runs) {
		return runs[i]
	}
	return nil
}

// observe tells the Observer how the attempt of outcome o ended: r is the
// run as the store recorded it, nil when the store refused the outcome or
// could not record it (err says why).
func (w *workers) observe(o *outcome, r *store.Run, err error) {
	if o.run == nil {
		return
	}
	obs := w.s.observer
	a := &o.attempt
	*a = AttemptObserved{Run: o.run, Attempt: o.run.Attempt, Duration: o.took, Context: o.ctx}
	switch {
	case r != nil:
		a.Outcome = attemptOutcome(r.Status, o.requeue != nil && !o.requeue.NextAttempt)
	case leaseLost(err, o.runID()):
		a.Outcome = AttemptLeaseLost
	case o.finish != nil:
		a.Outcome = attemptOutcome(o.finish.Status, false)
	default:
		a.Outcome = attemptOutcome(store.RunQueued, !o.requeue.NextAttempt)
	}
	obs.Observe(a)
	if r != nil && r.Status.Terminal() {
		o.end = RunEndObserved{Run: r, Status: r.Status, Attempts: r.Attempt, Duration: o.took}
		obs.Observe(&o.end)
	}
}

// leaseLost reports whether err says that the store refused the outcome of
// run id because this node no longer held it.
func leaseLost(err error, id string) bool {
	if !errors.Is(err, store.ErrLeaseLost) {
		return false
	}
	var lle *store.LeaseLostError
	if !errors.As(err, &lle) {
		return true // a refusal of this entry alone
	}
	return slices.Contains(lle.RunIDs, id)
}

// recordOne records one finish; one the store refuses as invalid is
// recorded as failed, saying why.
func (w *workers) recordOne(f *store.RunFinishParams) ([]*store.Run, error) {
	var runs []*store.Run
	err := w.retry("record a finished run", func(ctx context.Context) (err error) {
		runs, err = w.s.st.RunFinish(ctx, f)
		return err
	})
	if errors.Is(err, store.ErrInvalid) {
		failed := &store.RunFinishParams{ID: f.ID, Node: f.Node, Status: store.RunFailed,
			Error: fmt.Sprintf("the run's outcome was refused by the store: %v", err)}
		// Its own targets may want the failure: the deliverer takes it
		// out of the outbox once it has looked.
		failed.DeliverAfter = w.s.clock.Now().Add(w.s.cfg.DeliveryTakeover)
		err = w.retry("record a finished run", func(ctx context.Context) (err error) {
			runs, err = w.s.st.RunFinish(ctx, failed)
			return err
		})
	}
	return runs, err
}

// retry calls f until it succeeds, fails for good, or five tries failed
// with the store unavailable.
func (w *workers) retry(what string, f func(ctx context.Context) error) error {
	delay := 50 * time.Millisecond
	for try := 1; ; try++ {
		ctx, cancel := context.WithTimeout(w.recordCtx, 30*time.Second)
		err := f(ctx)
		cancel()
		if err == nil || errors.Is(err, store.ErrLeaseLost) || errors.Is(err, store.ErrInvalid) || try == 5 || w.recordCtx.Err() != nil {
			return err
		}
		level.Warn(w.s.logger).Log("msg", what+" failed; retrying", "try", try, "err", err)
		select {
		case <-time.After(delay):
		case <-w.recordCtx.Done():
		}
		delay *= 4
	}
}

// leaseLoop extends the leases of running runs every third of the lease,
// and ends the runs this node no longer holds or whose cancellation was
// asked for.
func (w *workers) leaseLoop() {
	t := time.NewTicker(w.s.cfg.Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-w.leaseCh:
			return
		case <-t.C:
			w.extend()
		}
	}
}

func (w *workers) extend() {
	w.mu.Lock()
	ids := make([]string, 0, len(w.held)+len(w.pending))
	execs := make(map[string]*execution, len(w.held))
	for id, e := range w.held {
		ids = append(ids, id)
		execs[id] = e
	}
	for id := range w.pending {
		ids = append(ids, id)
	}
	w.mu.Unlock()
	w.extendLeases(ids, w.s.cfg.Lease/3, func(ids []string, sent time.Time, leases []*store.RunLease, err error) {
		if err != nil {
			level.Warn(w.s.logger).Log("msg", "extend leases", "runs", len(ids), "err", err)
			return
		}
		kept := make(map[string]bool, len(leases))
		for _, l := range leases {
			kept[l.ID] = true
			if e := execs[l.ID]; e != nil && !l.LeaseExpiresAt.IsZero() { // zero: held, not extended this time
				e.guard.Reset(time.Until(w.guardAt(sent)))
			}
			if l.CancelRequested {
				w.cancelExec(l.ID, execs[l.ID], errCancelled)
			}
		}
		for _, id := range ids {
			if !kept[id] {
				w.cancelExec(id, execs[id], errLeaseLost)
			}
		}
	})
}

// guardFired is called when execution e's lease was not extended for five
// sixths of it. It makes one last extension, within half of what is left
// (the time from a call's sending to the store's clock, a connection's
// wait included, is counted against the lease, so the lease often holds
// longer than this node can be sure of); when that fails too, the run is
// stopped before another node may be given it.
func (w *workers) guardFired(e *execution) {
	w.mu.Lock()
	live := w.held[e.run.ID] == e
	w.mu.Unlock()
	if !live {
		return
	}
	lease := w.s.cfg.Lease
	ctx, cancel := context.WithTimeout(context.Background(), lease/12)
	defer cancel()
	for {
		sent := time.Now()
		leases, err := w.s.st.RunExtendLease(ctx, &store.RunExtendLeaseParams{Node: w.s.cfg.Node, IDs: []string{e.run.ID}, Lease: lease})
		switch {
		case err == nil && len(leases) == 1 && !leases[0].LeaseExpiresAt.IsZero():
			e.guard.Reset(time.Until(w.guardAt(sent)))
			return
		case err == nil && len(leases) == 1: // being written at that moment: again
			select {
			case <-time.After(5 * time.Millisecond):
				continue
			case <-ctx.Done():
				err = ctx.Err()
			}
		}
		level.Warn(w.s.logger).Log("msg", "lease not extended in time; stopping the run before another node may take it", "run_id", e.run.ID, "err", err)
		e.cancel(errLeaseLost)
		return
	}
}

// extendClaimed extends the leases of every run this node has claimed,
// including one whose claim is in flight.
func (w *workers) extendClaimed() {
	w.claimMu.Lock()
	defer w.claimMu.Unlock()
	w.extend()
}

// cancelExec ends execution e of run id with cause, if e still is the run's
// execution here (not a later attempt of the same run).
func (w *workers) cancelExec(id string, e *execution, cause error) {
	w.mu.Lock()
	same := e != nil && w.held[id] == e
	w.mu.Unlock()
	if same {
		e.cancel(cause)
	}
}

// drain waits up to grace (or until ctx ends) for the running runs, then
// cancels the rest, which go back to the queue, and records every outcome.
func (w *workers) drain(ctx context.Context, grace time.Duration) (err error) {
	// When Stop's context ends, outcomes still to record are given up
	// (their leases expire and other nodes rescue the runs).
	gaveUp := onDone(ctx, w.recordStop)
	abandoned := w.abandoned.Load()
	finished := waitGrace(ctx, &w.execWG, grace)
	w.runStop(errShutdown)
	<-finished
	w.pool.Close()
	w.pool.Wait()
	// The last outcomes are written while their leases are still kept.
	close(w.done)
	w.finishWG.Wait()
	close(w.leaseCh)
	w.leaseWG.Wait()
	// Asked as soon as the work is done: a context that ends after it
	// cut nothing short.
	if gaveUp() {
		err = fmt.Errorf("outcomes of runs were not all recorded before the context ended (%w): other nodes rescue those runs once their leases expire", ctx.Err())
	}
	w.recordStop()
	if n := w.abandoned.Load() - abandoned; n > 0 {
		err = errors.Join(err, fmt.Errorf("%d agents ignored their cancelled context and were left running", n))
	}
	return err
}

// waitGrace waits until wg is done, grace has passed or ctx has ended,
// whichever comes first, and returns a channel closed when wg is done.
func waitGrace(ctx context.Context, wg *sync.WaitGroup, grace time.Duration) <-chan struct{} {
	finished := make(chan struct{})
	go func() {
		wg.Wait()
		close(finished)
	}()
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-finished:
	case <-timer.C:
	case <-ctx.Done():
	}
	return finished
}

// onDone calls f when ctx ends before release is called. release reports
// whether f was called.
func onDone(ctx context.Context, f func()) (release func() bool) {
	released, called := make(chan struct{}), make(chan bool, 1)
	go func() {
		select {
		case <-ctx.Done():
			f()
			called <- true
		case <-released:
			called <- false
		}
	}()
	return func() bool {
		close(released)
		return <-called
	}
}
