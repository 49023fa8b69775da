package scheduler

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-kit/log/level"

	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/store"
)

// deliverer sends the results of finished runs to their targets.
//
// With a store that keeps a delivery outbox, a run that has deliveries to
// make ends with a DeliverAfter (see prepare); once each of them has
// succeeded or failed for good, the deliverer clears it. Deliveries cut
// short by Stop leave it set, and so do a crash's, and another node (or
// this one, restarted) takes them over once DeliverAfter has passed
// (takeOver), skipping the targets whose delivery already ended. While a
// run's deliveries are queued or under way here, the reaper keeps moving
// its DeliverAfter ahead (extend), so that no node takes them over.
type deliverer struct {
	s      *Scheduler
	outbox store.DeliveryOutbox // nil when the store keeps none

	ctx    context.Context // cancelled when Stop's grace is over
	cancel context.CancelFunc
	// recordCtx bounds the recording of attempts; it ends with Stop's
	// context.
	recordCtx  context.Context
	recordStop context.CancelFunc

	mu       sync.Mutex // guards queue, closed, inFlight and every runDeliveries
	queue    []*deliveryJob
	closed   bool
	inFlight map[string]*runDeliveries // by run id: the outbox runs delivered here
	ready    chan struct{}
	done     chan struct{} // closed with closed
	wg       sync.WaitGroup
}

// deliveryJob is one run's result for one target.
type deliveryJob struct {
	run    *store.Run
	target store.Target
	first  int            // the number of its first attempt
	batch  *runDeliveries // nil when the store keeps no outbox
}

// runDeliveries follows the deliveries of one run in the outbox.
type runDeliveries struct {
	left       int       // deliveries not yet ended
	incomplete bool      // one was cut short: the run stays in the outbox
	until      time.Time // the run's DeliverAfter, as last written
}

// takeOverBatch is how many runs one outbox claim takes over.
const takeOverBatch = 100

func newDeliverer(s *Scheduler) *deliverer {
	ctx, cancel := context.WithCancel(context.Background())
	recordCtx, recordStop := context.WithCancel(context.Background())
	d := &deliverer{s: s, ctx: ctx, cancel: cancel, recordCtx: recordCtx, recordStop: recordStop,
		ready: make(chan struct{}, 1), done: make(chan struct{}), inFlight: map[string]*runDeliveries{}}
	d.outbox, _ = s.st.(store.DeliveryOutbox)
	for range s.cfg.DeliveryWorkers {
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			d.work()
		}()
	}
	return d
}

// wants reports whether target t receives a run that ended in status.
func wants(t store.Target, status store.RunStatus) bool {
	switch t.On {
	case store.DeliverSuccess:
		return status == store.RunSucceeded
	case store.DeliverFailure:
		return status != store.RunSucceeded
	}
	return true
}

// prepare completes the outcome out of run r, before it is recorded: with
// an outbox, the result's extra targets join the run's own, and a run with
// a target that wants its outcome is recorded with a DeliverAfter. A
// requeue gets one too when a target wants a cancelled run: the store ends
// the run cancelled instead if its cancellation was requested meanwhile.
func (d *deliverer) prepare(r *store.Run, out *outcome) {
	if d.outbox == nil {
		return
	}
	if out.requeue != nil {
		if slices.ContainsFunc(r.Targets, func(t store.Target) bool { return wants(t, store.RunCancelled) }) {
			out.requeue.DeliverAfter = d.s.cfg.Clock.Now().Add(d.s.cfg.DeliveryTakeover)
		}
		return
	}
	if out.finish == nil {
		return
	}
	due := false
	for _, ts := range [][]store.Target{r.Targets, out.targets} {
		for _, t := range ts {
			due = due || wants(t, out.finish.Status)
		}
	}
	if len(out.targets) > 0 {
		out.finish.Targets = append(slices.Clone(r.Targets), out.targets...)
		out.targets = nil
	}
	if due {
		out.finish.DeliverAfter = d.s.cfg.Clock.Now().Add(d.s.cfg.DeliveryTakeover)
	}
}

// enqueue queues the deliveries of finished run r: its own targets and
// extra, those that want its outcome.
func (d *deliverer) enqueue(r *store.Run, extra []store.Target) {
	var jobs []*deliveryJob
	for _, ts := range [][]store.Target{r.Targets, extra} {
		for _, t := range ts {
			if wants(t, r.Status) {
				jobs = append(jobs, &deliveryJob{run: r, target: t, first: 1})
			}
		}
	}
	d.add(r, jobs)
}

// add queues jobs, the deliveries of run r, following them in the outbox
// when r is there.
func (d *deliverer) add(r *store.Run, jobs []*deliveryJob) {
	if d.outbox != nil && !r.DeliverAfter.IsZero() {
		if len(jobs) == 0 {
			d.delivered(r.ID)
			return
		}
		rd := &runDeliveries{left: len(jobs), until: r.DeliverAfter}
		for _, j := range jobs {
			j.batch = rd
		}
		d.mu.Lock()
		d.inFlight[r.ID] = rd
		d.mu.Unlock()
	}
	if len(jobs) == 0 {
		return
	}
	d.mu.Lock()
	closed := d.closed
	if !closed {
		d.queue = append(d.queue, jobs...)
	}
	d.mu.Unlock()
	if closed {
		for _, j := range jobs {
			d.abandon(j, "scheduler stopped before the delivery started")
		}
		return
	}
	signal(d.ready)
}

// takeOver makes the deliveries of runs whose DeliverAfter has passed:
// their node never reported them done. It takes no more while the queue
// holds a job per delivery worker, and skips the runs whose deliveries are
// still going here. An error on one run does not stop the others.
func (d *deliverer) takeOver(ctx context.Context) error {
	if d.outbox == nil {
		return nil
	}
	var errs []error
	for {
		d.mu.Lock()
		busy := len(d.queue) >= d.s.cfg.DeliveryWorkers
		d.mu.Unlock()
		if busy {
			break
		}
		runs, err := d.outbox.RunDeliveryClaim(ctx, &store.RunDeliveryClaimParams{
			Until: d.s.cfg.Clock.Now().Add(d.s.cfg.DeliveryTakeover), Limit: takeOverBatch})
		if err != nil {
			errs = append(errs, fmt.Errorf("take over deliveries: %w", err))
			break
		}
		for _, r := range runs {
			d.mu.Lock()
			_, here := d.inFlight[r.ID]
			d.mu.Unlock()
			if here {
				continue
			}
			if err := d.resume(ctx, r); err != nil {
				errs = append(errs, err)
			}
		}
		if len(runs) < takeOverBatch {
			break
		}
	}
	return errors.Join(errs...)
}

// extend moves ahead the DeliverAfter of the runs whose deliveries are
// queued or under way here, once less than half of DeliveryTakeover is
// left of it, so that no node takes them over.
func (d *deliverer) extend(ctx context.Context) error {
	if d.outbox == nil {
		return nil
	}
	now := d.s.cfg.Clock.Now()
	until := now.Add(d.s.cfg.DeliveryTakeover)
	var ids []string
	var rds []*runDeliveries
	d.mu.Lock()
	for id, rd := range d.inFlight {
		if rd.until.Sub(now) < d.s.cfg.DeliveryTakeover/2 {
			ids, rds = append(ids, id), append(rds, rd)
		}
	}
	d.mu.Unlock()
	for lo := 0; lo < len(ids); lo += store.ListLimitMax {
		hi := min(lo+store.ListLimitMax, len(ids))
		if err := d.outbox.RunDeliveryExtend(ctx, &store.RunDeliveryExtendParams{IDs: ids[lo:hi], Until: until}); err != nil {
			return fmt.Errorf("extend deliveries: %w", err)
		}
		d.mu.Lock()
		for _, rd := range rds[lo:hi] {
			rd.until = until
		}
		d.mu.Unlock()
	}
	return nil
}

// resume queues the deliveries of run r whose delivery has not ended, each
// from the attempt after its last recorded one.
func (d *deliverer) resume(ctx context.Context, r *store.Run) error {
	recs, err := d.s.st.DeliveryList(ctx, &store.DeliveryListParams{RunID: r.ID})
	if err != nil {
		return fmt.Errorf("take over deliveries of run %s: %w", r.ID, err)
	}
	type key struct{ channel, to string }
	lastAttempt, ended := map[key]int{}, map[key]bool{}
	for _, rec := range recs {
		k := key{rec.Channel, rec.To}
		lastAttempt[k] = max(lastAttempt[k], rec.Attempt)
		ended[k] = ended[k] || rec.Status != store.DeliveryRetrying
	}
	var jobs []*deliveryJob
	for _, t := range r.Targets {
		if k := (key{t.Channel, t.To}); wants(t, r.Status) && !ended[k] {
			jobs = append(jobs, &deliveryJob{run: r, target: t, first: lastAttempt[k] + 1})
		}
	}
	level.Info(d.s.logger).Log("msg", "taking over deliveries", "run_id", r.ID, "status", r.Status, "deliveries", len(jobs))
	d.add(r, jobs)
	return nil
}

// settle notes that job j ended: complete when its delivery succeeded or
// failed for good, not when Stop cut it short. The run leaves the outbox
// when its last delivery settles complete.
func (d *deliverer) settle(j *deliveryJob, complete bool) {
	if j.batch == nil {
		return
	}
	d.mu.Lock()
	j.batch.left--
	j.batch.incomplete = j.batch.incomplete || !complete
	done := j.batch.left == 0 && !j.batch.incomplete
	if j.batch.left == 0 && d.inFlight[j.run.ID] == j.batch {
		delete(d.inFlight, j.run.ID)
	}
	d.mu.Unlock()
	if done {
		d.delivered(j.run.ID)
	}
}

// delivered takes run id out of the outbox.
func (d *deliverer) delivered(id string) {
	ctx, cancel := context.WithTimeout(d.recordCtx, 10*time.Second)
	defer cancel()
	if err := d.outbox.RunDelivered(ctx, id); err != nil {
		level.Warn(d.s.logger).Log("msg", "deliveries ended but not recorded so; another node will check them", "run_id", id, "err", err)
	}
}

func (d *deliverer) next() (*deliveryJob, bool) {
	for {
		d.mu.Lock()
		if len(d.queue) > 0 {
			j := d.queue[0]
			d.queue[0] = nil
			d.queue = d.queue[1:]
			more := len(d.queue) > 0
			d.mu.Unlock()
			if more {
				signal(d.ready) // let another worker take the next
			}
			return j, true
		}
		closed := d.closed
		d.mu.Unlock()
		if closed {
			return nil, false
		}
		select {
		case <-d.ready:
		case <-d.done:
		}
	}
}

func (d *deliverer) work() {
	for {
		j, ok := d.next()
		if !ok {
			return
		}
		if d.ctx.Err() != nil {
			d.abandon(j, "scheduler stopped before the delivery started")
			continue
		}
		d.deliver(j)
	}
}

// message is what job j sends. A run that did not succeed is described
// in plain text, without links, so that an on-failure target (an admin's
// mailbox) learns what failed and why from the message alone.
func message(j *deliveryJob) *delivery.Message {
	r := j.run
	m := &delivery.Message{
		RunID: r.ID, Owner: r.Owner, Agent: r.Agent, Status: string(r.Status),
		Target:  delivery.Target{Channel: j.target.Channel, To: j.target.To},
		Subject: fmt.Sprintf("%s: run %s", r.Agent, r.Status),
		Output:  r.Output, Error: r.Error,
	}
	if r.Status == store.RunSucceeded {
		m.Text = r.Summary
	} else {
		m.Text = failureText(r)
	}
	sum := sha256.Sum256([]byte(j.target.Channel + "\x00" + j.target.To))
	m.IdempotencyKey = r.ID + "-" + hex.EncodeToString(sum[:8])
	return m
}

// failureText describes a run that ended without success: what ran, how it
// ended, the error, and when.
func failureText(r *store.Run) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Run %s of agent %s ended %s after %d of %d attempt(s).\n", r.ID, r.Agent, r.Status, r.Attempt, r.MaxAttempts)
	if r.Error != "" {
		fmt.Fprintf(&b, "Error: %s\n", r.Error)
	}
	fmt.Fprintf(&b, "Owner: %s\n", r.Owner)
	switch {
	case r.ScheduleID != "" && !r.ScheduledFor.IsZero():
		fmt.Fprintf(&b, "Schedule: %s, tick %s\n", r.ScheduleID, r.ScheduledFor.UTC().Format(time.RFC3339))
	case r.ScheduleID != "":
		fmt.Fprintf(&b, "Schedule: %s (%s)\n", r.ScheduleID, r.Kind)
	default:
		fmt.Fprintf(&b, "Trigger: %s\n", r.Kind)
	}
	if !r.StartedAt.IsZero() && !r.FinishedAt.IsZero() {
		fmt.Fprintf(&b, "Started %s, finished %s (%s).\n", r.StartedAt.UTC().Format(time.RFC3339),
			r.FinishedAt.UTC().Format(time.RFC3339), r.FinishedAt.Sub(r.StartedAt).Round(time.Millisecond))
	} else if !r.FinishedAt.IsZero() {
		fmt.Fprintf(&b, "Ended %s without starting.\n", r.FinishedAt.UTC().Format(time.RFC3339))
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// deliver makes the attempts of job j, recording each.
func (d *deliverer) deliver(j *deliveryJob) {
	s := d.s
	m := message(j)
	for n := j.first; ; n++ {
		started := s.cfg.Clock.Now()
		err := s.cfg.Delivery.Deliver(d.ctx, m)
		rec := &store.Delivery{RunID: j.run.ID, Channel: j.target.Channel, To: j.target.To, Attempt: n,
			Status: store.DeliverySucceeded, StartedAt: started, FinishedAt: s.cfg.Clock.Now()}
		// Cut short by Stop: with an outbox, another node takes over.
		handedOver := d.ctx.Err() != nil && j.batch != nil
		last := n >= max(s.cfg.DeliveryAttempts, j.first) || delivery.IsPermanent(err) || d.ctx.Err() != nil
		if err != nil {
			rec.Error = err.Error()
			rec.Status = store.DeliveryRetrying
			if last && !handedOver {
				rec.Status = store.DeliveryFailed
			}
			lvl := level.Warn
			if rec.Status == store.DeliveryFailed {
				lvl = level.Error
			}
			lvl(s.logger).Log("msg", "delivery failed", "run_id", j.run.ID, "channel", j.target.Channel,
				"attempt", n, "final", rec.Status == store.DeliveryFailed, "err", err)
		}
		d.record(rec)
		s.observer.Observe(DeliveryObserved{Run: j.run, Channel: rec.Channel, Attempt: n, Status: rec.Status,
			Duration: since(rec.FinishedAt, rec.StartedAt)})
		if err == nil || last {
			d.settle(j, err == nil || !handedOver)
			return
		}
		wait, ok := delivery.RetryDelay(err)
		if !ok {
			wait = backoff(s.cfg.Retry, n)
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-d.ctx.Done():
			t.Stop()
			if j.batch != nil { // another node makes the next attempt
				d.settle(j, false)
				return
			}
		}
	}
}

// abandon gives up job j before its first attempt: with an outbox, another
// node takes it over; without, it is recorded as failed.
func (d *deliverer) abandon(j *deliveryJob, why string) {
	if j.batch != nil {
		level.Info(d.s.logger).Log("msg", "delivery left to another node", "run_id", j.run.ID, "channel", j.target.Channel, "reason", why)
		d.settle(j, false)
		return
	}
	now := d.s.cfg.Clock.Now()
	level.Error(d.s.logger).Log("msg", "delivery abandoned", "run_id", j.run.ID, "channel", j.target.Channel, "reason", why)
	d.record(&store.Delivery{RunID: j.run.ID, Channel: j.target.Channel, To: j.target.To, Attempt: j.first,
		Status: store.DeliveryFailed, Error: why, StartedAt: now, FinishedAt: now})
	d.s.observer.Observe(DeliveryObserved{Run: j.run, Channel: j.target.Channel, Attempt: j.first, Status: store.DeliveryFailed})
}

func (d *deliverer) record(rec *store.Delivery) {
	ctx, cancel := context.WithTimeout(d.recordCtx, 10*time.Second)
	defer cancel()
	if _, err := d.s.st.DeliveryRecord(ctx, rec); err != nil {
		level.Error(d.s.logger).Log("msg", "record delivery attempt", "run_id", rec.RunID, "channel", rec.Channel, "err", err)
	}
}

// drain lets queued and running deliveries finish for up to grace (or until
// ctx ends), then cancels the rest: with an outbox they are left to another
// node (or the next start), without one they are recorded as failed.
func (d *deliverer) drain(ctx context.Context, grace time.Duration) {
	d.mu.Lock()
	d.closed = true
	close(d.done)
	d.mu.Unlock()
	// When Stop's context ends, the records still to write are dropped
	// (and logged).
	defer onDone(ctx, d.recordStop)()
	finished := waitGrace(ctx, &d.wg, grace)
	d.cancel()
	<-finished
	d.recordStop()
}
