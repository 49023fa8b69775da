package scheduler

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/heraldhq/herald/clock"
	"github.com/heraldhq/herald/store"
)

// Errors of the scheduler's life cycle.
var (
	// ErrNotStarted: the operation needs a started scheduler.
	ErrNotStarted = errors.New("scheduler: not started")
	// ErrStarted: Start was called on a scheduler that was already started
	// (or stopped: a stopped scheduler cannot start again; make a new one).
	ErrStarted = errors.New("scheduler: already started")
	// ErrStatic: static schedules are declared in code or configuration;
	// users cannot edit or delete them.
	ErrStatic = errors.New("scheduler: static schedule")
)

// hardStopRecord bounds the writing of releases and outcomes when Start's
// context ends.
const hardStopRecord = 5 * time.Second

// errShutdown, errCancelled, errTimedOut and errLeaseLost are the causes
// with which a run's context ends.
var (
	errShutdown  = errors.New("scheduler: node stopping")
	errCancelled = errors.New("scheduler: run cancelled")
	errTimedOut  = errors.New("scheduler: run timed out")
	errLeaseLost = errors.New("scheduler: lease lost")
)

// Scheduler runs Herald on one node. Create it with New, then Start it;
// Stop it to leave. Its methods are safe for concurrent use. The schedule and
// run methods work on the store whether or not the scheduler is started.
type Scheduler struct {
	st     store.Store
	cfg    Config
	clock  clock.Clock  // the store's
	limits store.Limits // the store's
	logger log.Logger
	// debug is logger at debug level, nil when no logger was given: the
	// logs of every run and tick are then not even put together.
	debug    log.Logger
	observer Observer // cfg.Observer, or one that observes nothing
	tracer   Tracer   // cfg.Observer when it is a Tracer, else nil

	triggers *triggerCache

	// abandonAfter is how long a worker waits for an agent that ignores
	// its cancelled context (abandonAfter, shorter in tests).
	abandonAfter time.Duration

	mu      sync.Mutex // guards state and stopErr
	state   int
	stopped chan struct{} // closed when Stop has finished
	stopErr error

	// Set by Start.
	fire     *fireLoop
	work     *workers
	deliver  *deliverer
	loops    sync.WaitGroup // the loops that end when loopStop is cancelled
	loopStop context.CancelFunc
	unwatch  context.CancelFunc // ends Start's context watcher
	subStop  context.CancelFunc // ends the notification subscription
	notes    sync.WaitGroup     // the notification dispatcher
}

const (
	stateNew = iota
	stateStarted
	stateStopping
	stateStopped
)

// New returns a scheduler on st. It refuses an invalid cfg with an error that
// names the field and the rule; it starts nothing.
func New(st store.Store, cfg Config) (*Scheduler, error) {
	if st == nil {
		return nil, errors.New("scheduler: store must not be nil")
	}
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Scheduler{
		st:       st,
		cfg:      c,
		clock:    clock.OrSystem(st.Clock()),
		limits:   st.Limits().WithDefaults(),
		logger:   log.With(c.Logger, "component", "scheduler", "node", c.Node),
		observer: c.Observer,
		triggers: newTriggerCache(),
		stopped:  make(chan struct{}),

		abandonAfter: abandonAfter,
	}
	if cfg.Logger != nil {
		s.debug = level.Debug(s.logger)
	}
	if s.observer == nil {
		s.observer = nopObserver{}
	}
	s.tracer, _ = s.observer.(Tracer)
	for i, sch := range c.Static {
		if err := s.checkSchedule(context.Background(), sch, fmt.Sprintf("Static[%d].", i)); err != nil {
			return nil, fmt.Errorf("scheduler: invalid config: %w", err)
		}
	}
	return s, nil
}

// Node is the name this node claims runs under.
func (s *Scheduler) Node() string { return s.cfg.Node }

// Start upserts the static schedules, loads every active schedule, applies
// the misfire policies to ticks missed while no node ran, and starts the
// timer, the workers, the reaper and the delivery workers. It returns once
// the node is live. Cancelling ctx later stops the node at once, as Stop
// does after its grace period: running runs are cancelled and put back in
// the queue.
func (s *Scheduler) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != stateNew {
		return ErrStarted
	}
	if err := s.upsertStatic(ctx); err != nil {
		return fmt.Errorf("scheduler: start: %w", err)
	}
	subCtx, subStop := context.WithCancel(context.WithoutCancel(ctx))
	notes, err := s.st.Subscribe(subCtx)
	if err != nil {
		subStop()
		return fmt.Errorf("scheduler: start: subscribe: %w", err)
	}
	loopCtx, loopStop := context.WithCancel(context.WithoutCancel(ctx))
	fire, err := newFireLoop(ctx, loopCtx, s)
	if err != nil {
		loopStop()
		subStop()
		return fmt.Errorf("scheduler: start: %w", err)
	}
	s.fire, s.loopStop, s.subStop = fire, loopStop, subStop
	s.deliver = newDeliverer(s)
	s.work = newWorkers(s)
	s.goLoop(func() { fire.run(loopCtx) })
	s.goLoop(func() { s.work.claimLoop(loopCtx) })
	s.goLoop(func() { s.reapLoop(loopCtx) })
	s.notes.Add(1)
	go func() {
		defer s.notes.Done()
		s.dispatch(notes)
	}()
	watchCtx, unwatch := context.WithCancel(context.Background())
	s.unwatch = unwatch
	go func() {
		select {
		case <-ctx.Done():
			_ = s.stop(ctx, true)
		case <-watchCtx.Done():
		}
	}()
	s.state = stateStarted
	level.Info(s.logger).Log("msg", "scheduler started", "schedules", fire.size(), "workers", s.cfg.Workers)
	return nil
}

func (s *Scheduler) goLoop(f func()) {
	s.loops.Add(1)
	go func() {
		defer s.loops.Done()
		f()
	}()
}

// Stop leaves: it stops firing and claiming, lets running runs finish for
// up to Config.ShutdownGrace (or until ctx ends), then cancels the rest and
// puts them back in the queue for another node or the next start; then it
// lets the deliveries queued and under way go on for up to another
// ShutdownGrace, leaves those that could not be made to another node
// (through the store's delivery outbox), and
// returns when the engine's goroutines have ended (an agent that ignores
// its cancelled context is left behind, and logged). When ctx ends, outcomes
// not yet recorded are dropped: their leases expire and other nodes rescue
// the runs. Stop returns an error saying what it could not do: outcomes or
// deliveries it gave up on when ctx ended, agents left running; the
// scheduler is stopped either way. Stop is idempotent: a second call waits
// for the first and returns its result. Stopping a scheduler that was never
// started is not an error.
func (s *Scheduler) Stop(ctx context.Context) error {
	return s.stop(ctx, false)
}

func (s *Scheduler) stop(ctx context.Context, hard bool) error {
	s.mu.Lock()
	switch s.state {
	case stateNew:
		s.state = stateStopped
		close(s.stopped)
		s.mu.Unlock()
		return nil
	case stateStopping, stateStopped:
		s.mu.Unlock()
		select {
		case <-s.stopped:
			s.mu.Lock()
			defer s.mu.Unlock()
			return s.stopErr
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.state = stateStopping
	s.mu.Unlock()

	// No new work: stop the timer, the claims, the reaper and the resync.
	s.loopStop()
	s.loops.Wait()
	s.fire.stopTimer()

	grace := s.cfg.ShutdownGrace
	if hard {
		// Start's context ended: no grace, but the releases are still
		// written, within hardStopRecord.
		grace = 0
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), hardStopRecord)
		defer cancel()
	}
	if err := errors.Join(s.work.drain(ctx, grace), s.deliver.drain(ctx, grace)); err != nil {
		s.stopErr = fmt.Errorf("scheduler: stop: %w", err)
		level.Warn(s.logger).Log("msg", "scheduler stopped with work left", "err", s.stopErr)
	}
	s.subStop()
	s.notes.Wait()
	s.unwatch()

	s.mu.Lock()
	defer s.mu.Unlock()
	s.state = stateStopped
	close(s.stopped)
	level.Info(s.logger).Log("msg", "scheduler stopped")
	return s.stopErr
}

// dispatch hands each notification to the loop that cares.
func (s *Scheduler) dispatch(notes <-chan store.Notification) {
	for n := range notes {
		switch n.Topic {
		case store.TopicSchedule:
			s.fire.changed(n.ID)
		case store.TopicResync:
			s.fire.resync()
			s.work.wake()
		case store.TopicRunDue:
			s.work.wake()
		case store.TopicRunCancel:
			s.work.cancel(n.ID, errCancelled)
		}
	}
}

// running returns the workers while the scheduler is started, else nil.
func (s *Scheduler) running() *workers {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != stateStarted {
		return nil
	}
	return s.work
}

// Tick does at once what the node's timers do: it extends the leases of the
// runs executing here, re-reads every schedule, enqueues every tick due at
// the clock's time (applying misfire policies), rescues runs whose lease
// expired, takes over deliveries left undone past their DeliverAfter, and
// wakes the workers. It returns when the ticks are in the
// store. Tests that drive a fake clock call it after moving the clock.
func (s *Scheduler) Tick(ctx context.Context) error {
	s.mu.Lock()
	started := s.state == stateStarted
	s.mu.Unlock()
	if !started {
		return ErrNotStarted
	}
	// The leases of the runs executing here are extended first, at the
	// clock's time, so moving a fake clock does not expire them.
	s.work.extendClaimed()
	if err := s.fire.tick(ctx); err != nil {
		return err
	}
	s.deliver.releaseDue()
	if _, err := s.reap(ctx); err != nil {
		return err
	}
	s.work.wake()
	return nil
}

// reapLoop rescues runs whose lease expired and takes over deliveries left
// undone, every ReapInterval.
func (s *Scheduler) reapLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.ReapInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.reap(ctx); err != nil && ctx.Err() == nil {
				level.Warn(s.logger).Log("msg", "reap: rescue expired runs, take over deliveries", "err", err)
			}
		}
	}
}

// reap rescues runs whose lease expired, and takes over deliveries left
// undone past their DeliverAfter.
func (s *Scheduler) reap(ctx context.Context) (int, error) {
	total := 0
	for {
		p := &store.RunRescueParams{Limit: store.ListLimitMax}
		if s.deliver != nil {
			p.DeliverAfter = s.clock.Now().Add(s.cfg.DeliveryTakeover)
		}
		runs, err := s.st.RunRescue(ctx, p)
		if err != nil {
			return total, fmt.Errorf("rescue runs: %w", err)
		}
		for _, r := range runs {
			level.Info(s.logger).Log("msg", "run rescued from an expired lease", "run_id", r.ID, "status", r.Status, "attempt", r.Attempt)
			if r.Status.Terminal() && s.deliver != nil {
				s.deliver.enqueue(r, nil) // its node died: no one else will deliver it
			}
		}
		total += len(runs)
		if len(runs) < store.ListLimitMax {
			break
		}
	}
	if s.deliver != nil {
		// Deliveries under way here stay here; those whose node never
		// reported them done (it died, or stopped before making them) are
		// taken over.
		if err := errors.Join(s.deliver.extend(ctx), s.deliver.takeOver(ctx)); err != nil {
			return total, err
		}
	}
	return total, nil
}
