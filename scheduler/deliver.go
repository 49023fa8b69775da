package scheduler

import (
	"container/heap"
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
// It owns the retries of a delivery: each attempt is one call of the
// Deliverer, recorded, and a delivery that must wait for its next attempt
// (a receiver's Retry-After, or the backoff) holds no delivery worker
// meanwhile: it is parked on a timer and queued again when its time comes
// (park, wakeParked). A wait longer than Config.DeliveryWaitMax is not
// kept here at all: the delivery is left to the store's outbox, the run's
// DeliverAfter set to the time of the next attempt, and whichever node
// takes the run over then makes that attempt (handOver, takeOver).
//
// A run that has deliveries to make ends with a DeliverAfter, in the
// store's delivery outbox (see prepare); once each of them has
// succeeded or failed for good, the deliverer clears it. Deliveries cut
// short by Stop leave it set, and so do a crash's, and another node (or
// this one, restarted) takes them over once DeliverAfter has passed
// (takeOver), skipping the targets whose delivery already ended. While a
// run's deliveries are queued, parked or under way here, the reaper keeps
// moving its DeliverAfter ahead (extend), so that no node takes them over.
type deliverer struct {
	s *Scheduler

	ctx    context.Context // cancelled when Stop's grace is over
	cancel context.CancelFunc
	// recordCtx bounds the recording of attempts; it ends with Stop's
	// context.
	recordCtx  context.Context
	recordStop context.CancelFunc

	mu       sync.Mutex // guards the fields below and every runDeliveries
	ready    *sync.Cond // on mu: a job was queued, or the workers may have to end
	queue    []*deliveryJob
	parked   parkedJobs  // by wake
	timer    *time.Timer // fires wakeParked at parked[0].wake; nil until first needed
	closed   bool
	deadline time.Time                 // once closed: the end of Stop's grace, on the system clock
	inFlight map[string]*runDeliveries // by run id: the outbox runs delivered here
	wg       sync.WaitGroup

	// extendMu orders extend's writes of DeliverAfter with handOver's,
	// so that the run of a delivery left to the outbox is not extended
	// past the time of its next attempt.
	extendMu sync.Mutex
}

// deliveryJob is one run's result for one target.
type deliveryJob struct {
	run     *store.Run
	target  store.Target
	first   int               // the number of its first attempt here
	attempt int               // the number of its next attempt
	batch   *runDeliveries    // nil when the run is not in the outbox (no DeliverAfter)
	msg     *delivery.Message // built at the first attempt

	// Set while parked: when the next attempt is due, on the engine's
	// clock (due) and on the system's (wake), and the place in parked.
	due  time.Time
	wake time.Time
	pos  int
}

// runDeliveries follows the deliveries of one run in the outbox.
type runDeliveries struct {
	left       int       // deliveries not yet ended
	incomplete bool      // one was cut short or left to the outbox: the run stays there
	next       time.Time // the latest next attempt of those left to the outbox
	until      time.Time // the run's DeliverAfter, as last written
}

// parkedJobs is a heap of parked jobs by wake.
type parkedJobs []*deliveryJob

func (h parkedJobs) Len() int           { return len(h) }
func (h parkedJobs) Less(i, j int) bool { return h[i].wake.Before(h[j].wake) }
func (h parkedJobs) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].pos, h[j].pos = i, j
}
func (h *parkedJobs) Push(x any) {
	j := x.(*deliveryJob)
	j.pos = len(*h)
	*h = append(*h, j)
}
func (h *parkedJobs) Pop() any {
	old := *h
	j := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return j
}

// takeOverBatch is how many runs one outbox claim takes over.
const takeOverBatch = 100

func newDeliverer(s *Scheduler) *deliverer {
	ctx, cancel := context.WithCancel(context.Background())
	recordCtx, recordStop := context.WithCancel(context.Background())
	d := &deliverer{s: s, ctx: ctx, cancel: cancel, recordCtx: recordCtx, recordStop: recordStop,
		inFlight: map[string]*runDeliveries{}}
	d.ready = sync.NewCond(&d.mu)
	// Workers waiting for a job end once Stop's grace is over.
	context.AfterFunc(ctx, func() {
		d.mu.Lock()
		d.ready.Broadcast()
		d.mu.Unlock()
	})
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
	case delivery.OnSuccess:
		return status == store.RunSucceeded
	case delivery.OnFailure:
		return status != store.RunSucceeded
	}
	return true
}

// prepare completes the outcome out of run r, before it is recorded: the
// result's extra targets join the run's own, and a run with
// a target that wants its outcome is recorded with a DeliverAfter. A
// requeue gets one too when a target wants a cancelled run: the store ends
// the run cancelled instead if its cancellation was requested meanwhile.
func (d *deliverer) prepare(r *store.Run, out *outcome) {
	if out.requeue != nil {
		if slices.ContainsFunc(r.Targets, func(t store.Target) bool { return wants(t, store.RunCancelled) }) {
			out.requeue.DeliverAfter = d.s.clock.Now().Add(d.s.cfg.DeliveryTakeover)
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
		out.finish.DeliverAfter = d.s.clock.Now().Add(d.s.cfg.DeliveryTakeover)
	}
}

// enqueue queues the deliveries of finished run r: its own targets and
// extra, those that want its outcome.
func (d *deliverer) enqueue(r *store.Run, extra []store.Target) {
	var jobs []*deliveryJob
	for _, ts := range [][]store.Target{r.Targets, extra} {
		for _, t := range ts {
			if wants(t, r.Status) {
				jobs = append(jobs, &deliveryJob{run: r, target: t, first: 1, attempt: 1})
			}
		}
	}
	d.add(r, jobs)
}

// add queues jobs, the deliveries of run r, following them in the outbox
// when r is there.
func (d *deliverer) add(r *store.Run, jobs []*deliveryJob) {
	if !r.DeliverAfter.IsZero() {
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
		d.wakeWorkers(len(jobs))
	}
	d.mu.Unlock()
	if closed {
		for _, j := range jobs {
			d.abandon(j, "scheduler stopped before the delivery started")
		}
	}
}

// wakeWorkers wakes a worker for each of n jobs just queued. d.mu is held.
func (d *deliverer) wakeWorkers(n int) {
	if n == 1 {
		d.ready.Signal()
	} else if n > 1 {
		d.ready.Broadcast()
	}
}

// takeOver makes the deliveries of runs whose DeliverAfter has passed:
// their node never reported them done. It takes no more while the queue
// holds a job per delivery worker, and skips the runs whose deliveries are
// still going here. An error on one run does not stop the others.
func (d *deliverer) takeOver(ctx context.Context) error {
	var errs []error
	for {
		d.mu.Lock()
		busy := len(d.queue) >= d.s.cfg.DeliveryWorkers
		d.mu.Unlock()
		if busy {
			break
		}
		runs, err := d.s.st.RunDeliveryClaim(ctx, &store.RunDeliveryClaimParams{
			Until: d.s.clock.Now().Add(d.s.cfg.DeliveryTakeover), Limit: takeOverBatch})
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
// queued, parked or under way here, once less than half of DeliveryTakeover is
// left of it, so that no node takes them over.
func (d *deliverer) extend(ctx context.Context) error {
	d.extendMu.Lock()
	defer d.extendMu.Unlock()
	now := d.s.clock.Now()
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
		if err := d.s.st.RunDeliveryExtend(ctx, &store.RunDeliveryExtendParams{IDs: ids[lo:hi], Until: until}); err != nil {
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
			jobs = append(jobs, &deliveryJob{run: r, target: t, first: lastAttempt[k] + 1, attempt: lastAttempt[k] + 1})
		}
	}
	level.Info(d.s.logger).Log("msg", "taking over deliveries", "run_id", r.ID, "status", r.Status, "deliveries", len(jobs))
	d.add(r, jobs)
	return nil
}

// settle notes that job j ended here: complete when its delivery
// succeeded or failed for good; not when Stop cut it short or it was left
// to the outbox, next then being the time of its next attempt (zero when
// unknown). The run leaves the outbox when its last delivery settles
// complete; when one was left with a next attempt, the run's DeliverAfter
// becomes the latest such time, so that the outbox makes the attempt then.
func (d *deliverer) settle(j *deliveryJob, complete bool, next time.Time) {
	if j.batch == nil {
		return
	}
	b := j.batch
	d.mu.Lock()
	b.left--
	b.incomplete = b.incomplete || !complete
	if !complete && next.After(b.next) {
		b.next = next
	}
	ended := b.left == 0
	if ended && d.inFlight[j.run.ID] == b {
		delete(d.inFlight, j.run.ID)
	}
	d.mu.Unlock()
	switch {
	case !ended:
	case !b.incomplete:
		d.delivered(j.run.ID)
	case !b.next.IsZero():
		d.handOver(j.run.ID, b.next)
	}
}

// delivered takes run id out of the outbox.
func (d *deliverer) delivered(id string) {
	ctx, cancel := context.WithTimeout(d.recordCtx, 10*time.Second)
	defer cancel()
	if err := d.s.st.RunDelivered(ctx, id); err != nil {
		level.Warn(d.s.logger).Log("msg", "deliveries ended but not recorded so; another node will check them", "run_id", id, "err", err)
	}
}

// handOver sets the DeliverAfter of run id, whose deliveries here have
// ended but not all for good, to at, when the next attempt of those left
// is due: from then on any node takes them over. at is at least a second
// ahead, so that the store takes it.
func (d *deliverer) handOver(id string, at time.Time) {
	d.extendMu.Lock()
	defer d.extendMu.Unlock()
	at = later(at, d.s.clock.Now().Add(time.Second))
	ctx, cancel := context.WithTimeout(d.recordCtx, 10*time.Second)
	defer cancel()
	if err := d.s.st.RunDeliveryExtend(ctx, &store.RunDeliveryExtendParams{IDs: []string{id}, Until: at}); err != nil {
		level.Warn(d.s.logger).Log("msg", "deliveries left to the outbox at their last deadline, not at their next attempt", "run_id", id, "err", err)
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// next waits for a queued job. It reports false once the deliverer is
// closed and nothing is left to do here: the queue is empty, and no job is
// parked or Stop's grace is over.
func (d *deliverer) next() (*deliveryJob, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for {
		if len(d.queue) > 0 {
			j := d.queue[0]
			d.queue[0] = nil
			d.queue = d.queue[1:]
			return j, true
		}
		if d.closed && (len(d.parked) == 0 || d.ctx.Err() != nil) {
			return nil, false
		}
		d.ready.Wait()
	}
}

func (d *deliverer) work() {
	for {
		j, ok := d.next()
		if !ok {
			return
		}
		if d.ctx.Err() != nil {
			d.abandon(j, "scheduler stopped before the delivery's next attempt")
			continue
		}
		d.attempt(j)
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

// attempt makes the next attempt of job j and records it. A delivery
// that is to be tried again waits parked, holding no worker, or, when the
// wait is longer than Config.DeliveryWaitMax and the run is in the
// outbox, is left to the outbox, which makes the next attempt when it is
// due.
func (d *deliverer) attempt(j *deliveryJob) {
	s := d.s
	if j.msg == nil {
		j.msg = message(j)
	}
	n := j.attempt
	dctx := d.ctx
	if t := s.tracer; t != nil {
		dctx = t.Start(d.ctx, DeliveryWork{Run: j.run, Channel: j.target.Channel, Attempt: n})
		dctx = delivery.WithTraceContext(dctx, t.TraceContext(dctx))
	}
	started := s.clock.Now()
	err := s.cfg.Delivery.Deliver(dctx, j.msg)
	rec := &store.Delivery{RunID: j.run.ID, Channel: j.target.Channel, To: j.target.To, Attempt: n,
		Status: store.DeliverySucceeded, StartedAt: started, FinishedAt: s.clock.Now()}
	// Cut short by Stop: another node takes over from the outbox.
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
	s.observer.Observe(&DeliveryObserved{Run: j.run, Channel: rec.Channel, Attempt: n, Status: rec.Status,
		Duration: since(rec.FinishedAt, rec.StartedAt), Context: dctx})
	if err == nil || last {
		d.settle(j, err == nil || !handedOver, time.Time{})
		return
	}
	wait, ok := delivery.RetryDelay(err)
	if !ok {
		wait = backoff(s.cfg.Retry, n)
	}
	j.attempt = n + 1
	j.due = rec.FinishedAt.Add(wait)
	if j.batch != nil && wait > s.cfg.DeliveryWaitMax {
		level.Info(s.logger).Log("msg", "delivery left to the outbox until its next attempt", "run_id", j.run.ID,
			"channel", j.target.Channel, "attempt", j.attempt, "wait", wait)
		d.settle(j, false, j.due)
		return
	}
	d.park(j, wait)
}

// park keeps job j aside until its next attempt is due, wait from now.
// Once Stop has begun, a job whose wait outlasts Stop's grace is left at
// once (see leave).
func (d *deliverer) park(j *deliveryJob, wait time.Duration) {
	j.wake = time.Now().Add(wait)
	d.mu.Lock()
	if d.closed && j.wake.After(d.deadline) {
		d.mu.Unlock()
		d.leave(j)
		return
	}
	heap.Push(&d.parked, j)
	if j.pos == 0 {
		d.resetTimer()
	}
	d.mu.Unlock()
}

// resetTimer sets the timer to the wake of the first parked job. d.mu is
// held.
func (d *deliverer) resetTimer() {
	if len(d.parked) == 0 {
		if d.timer != nil {
			d.timer.Stop()
		}
		return
	}
	wait := time.Until(d.parked[0].wake)
	if d.timer == nil {
		d.timer = time.AfterFunc(wait, d.wakeParked)
		return
	}
	d.timer.Reset(wait)
}

// wakeParked queues the parked jobs whose wake has come.
func (d *deliverer) wakeParked() {
	d.mu.Lock()
	defer d.mu.Unlock()
	now, n := time.Now(), 0
	for len(d.parked) > 0 && !d.parked[0].wake.After(now) {
		d.queue = append(d.queue, heap.Pop(&d.parked).(*deliveryJob))
		n++
	}
	d.unparked(n)
	d.resetTimer()
}

// releaseDue queues the parked jobs due on the engine's clock. With the
// system clock the timer does so at the same moment; with a clock that
// tests move, Scheduler.Tick calls it.
func (d *deliverer) releaseDue() {
	now := d.s.clock.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	var due []*deliveryJob
	for _, j := range d.parked {
		if !j.due.After(now) {
			due = append(due, j)
		}
	}
	if len(due) == 0 {
		return
	}
	for _, j := range due {
		heap.Remove(&d.parked, j.pos)
		d.queue = append(d.queue, j)
	}
	d.unparked(len(due))
	d.resetTimer()
}

// unparked wakes the workers for n jobs just moved from parked to the
// queue, and every worker when the last parked job of a closed deliverer
// is gone, so that those with nothing left to do end. d.mu is held.
func (d *deliverer) unparked(n int) {
	if d.closed && len(d.parked) == 0 {
		d.ready.Broadcast()
		return
	}
	d.wakeWorkers(n)
}

// leave gives up parked job j here: another node (or this one,
// restarted) makes its next attempt when it is due; when the run is not
// in the outbox, the delivery is recorded as failed.
func (d *deliverer) leave(j *deliveryJob) {
	d.abandon(j, "scheduler stopped before the delivery's next attempt")
}

// abandon gives up job j before its next attempt: another node takes it
// over from the outbox (when it is due, if it was parked); when the run is
// not in the outbox, it is recorded as failed.
func (d *deliverer) abandon(j *deliveryJob, why string) {
	if j.batch != nil {
		level.Info(d.s.logger).Log("msg", "delivery left to another node", "run_id", j.run.ID, "channel", j.target.Channel, "reason", why)
		d.settle(j, false, j.due)
		return
	}
	now := d.s.clock.Now()
	level.Error(d.s.logger).Log("msg", "delivery abandoned", "run_id", j.run.ID, "channel", j.target.Channel, "reason", why)
	d.record(&store.Delivery{RunID: j.run.ID, Channel: j.target.Channel, To: j.target.To, Attempt: j.attempt,
		Status: store.DeliveryFailed, Error: why, StartedAt: now, FinishedAt: now})
	d.s.observer.Observe(&DeliveryObserved{Run: j.run, Channel: j.target.Channel, Attempt: j.attempt, Status: store.DeliveryFailed,
		Context: context.Background()})
}

func (d *deliverer) record(rec *store.Delivery) {
	ctx, cancel := context.WithTimeout(d.recordCtx, 10*time.Second)
	defer cancel()
	if _, err := d.s.st.DeliveryRecord(ctx, rec); err != nil {
		level.Error(d.s.logger).Log("msg", "record delivery attempt", "run_id", rec.RunID, "channel", rec.Channel, "err", err)
	}
}

// drain lets queued and running deliveries finish for up to grace (or until
// ctx ends), and parked ones whose next attempt comes within it, then
// cancels the rest. What could not be made is left to another node (or
// the next start) in the outbox, a parked delivery for when its next
// attempt is due; that of a run not in the outbox is recorded as failed.
func (d *deliverer) drain(ctx context.Context, grace time.Duration) error {
	d.mu.Lock()
	d.closed = true
	d.deadline = time.Now().Add(grace)
	var leaving []*deliveryJob
	keep := d.parked[:0]
	for _, j := range d.parked {
		if j.wake.After(d.deadline) {
			leaving = append(leaving, j)
		} else {
			keep = append(keep, j)
		}
	}
	clear(d.parked[len(keep):])
	d.parked = keep
	for i, j := range d.parked {
		j.pos = i
	}
	heap.Init(&d.parked)
	d.resetTimer()
	d.ready.Broadcast()
	d.mu.Unlock()
	// When Stop's context ends, the records still to write are dropped
	// (and logged).
	gaveUp := onDone(ctx, d.recordStop)
	for _, j := range leaving {
		d.leave(j)
	}
	finished := waitGrace(ctx, &d.wg, grace)
	d.cancel()
	<-finished
	d.mu.Lock()
	leaving = d.parked
	d.parked = nil
	d.resetTimer()
	d.mu.Unlock()
	for _, j := range leaving {
		d.leave(j)
	}
	gave := gaveUp() // as soon as the work is done
	d.recordStop()
	if gave {
		return fmt.Errorf("deliveries were not all recorded or left to the outbox before the context ended (%w): those of runs whose node did not report them done are taken over by another node", ctx.Err())
	}
	return nil
}
