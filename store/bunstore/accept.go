package bunstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/heraldhq/herald/store"
)

// A webhook per transaction caps ingestion at the disk's commit rate (and,
// on PostgreSQL, costs a statement and a round trip each). The plain event
// accepts of concurrent callers are therefore written together (group
// commit) by one goroutine per store: each batch holds the callers that
// were waiting when the previous one committed, up to maxAcceptBatch, and
// nobody waits for a batch to fill. On SQLite a batch is one transaction
// of prepared statements; on PostgreSQL it is one statement.
const (
	// maxAcceptBatch bounds the events of one transaction.
	maxAcceptBatch = 256
	// acceptTimeout bounds one batch's transaction.
	acceptTimeout = 30 * time.Second
)

// acceptReq is a plain event accept handed to the batch writer.
type acceptReq struct {
	ctx  context.Context
	ev   *eventRow
	run  *runRow
	done chan acceptDone // buffered: the writer never blocks
}

// acceptDone is the outcome of an acceptReq: dup is set when the event
// was delivered before, runAt when the database set the new run's RunAt.
type acceptDone struct {
	dup   *store.EventAcceptResult
	runAt time.Time
	err   error
}

// acceptBatched hands r to the batch writer and waits for the outcome, or
// for ctx to end. Until the writer has taken r, nothing is written when ctx
// ends first; after, the write may still happen (as when a commit's answer
// is lost): the sender's retry is then a duplicate.
func (s *Store) acceptBatched(r *acceptReq) (*store.EventAcceptResult, error) {
	select {
	case s.acceptCh <- r:
	case <-s.acceptStopped:
		return nil, store.ErrClosed
	case <-r.ctx.Done():
		return nil, r.ctx.Err()
	}
	select {
	case d := <-r.done:
		if !d.runAt.IsZero() {
			r.run.RunAt = d.runAt
		}
		return d.dup, d.err
	case <-r.ctx.Done():
		return nil, r.ctx.Err()
	}
}

// acceptLoop is the batch writer.
func (s *Store) acceptLoop() {
	defer s.bg.Done()
	defer close(s.acceptStopped)
	for {
		var first *acceptReq
		select {
		case first = <-s.acceptCh:
		case <-s.closed:
			return
		}
		batch := []*acceptReq{first}
	collect:
		for len(batch) < maxAcceptBatch {
			select {
			case r := <-s.acceptCh:
				batch = append(batch, r)
			default:
				break collect
			}
		}
		s.acceptBatch(batch)
	}
}

// acceptBatch writes batch and answers each request. When the write fails
// for a reason that may be one request's, each is tried alone, so that its
// failure is its own; a store that is closed, unavailable or too slow fails
// them all at once.
func (s *Store) acceptBatch(batch []*acceptReq) {
	live := make([]*acceptReq, 0, len(batch))
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.done <- acceptDone{err: err}
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), acceptTimeout)
	defer cancel()
	var dones []acceptDone
	var err error
	if s.pg() {
		dones, err = s.acceptStatement(ctx, live)
	} else {
		dones, err = s.acceptTx(ctx, live)
	}
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
		err = fmt.Errorf("%w: the write took over %v", store.ErrUnavailable, acceptTimeout)
	}
	storeWide := errors.Is(err, store.ErrClosed) || errors.Is(err, store.ErrUnavailable)
	if err != nil && len(live) > 1 && !storeWide {
		for _, r := range live {
			s.acceptBatch([]*acceptReq{r})
		}
		return
	}
	for i, r := range live {
		if err != nil {
			r.done <- acceptDone{err: err}
		} else {
			r.done <- dones[i]
		}
	}
}

// due reports whether r's run is due at once (no RunAt: due at now()).
func (r *acceptReq) due() bool { return r.run.RunAt.IsZero() || !r.run.RunAt.After(r.ev.ReceivedAt) }

// acceptTx writes the requests in one SQLite transaction, one at a time,
// and returns each one's outcome (the original event and run of one
// delivered before).
func (s *Store) acceptTx(ctx context.Context, reqs []*acceptReq) ([]acceptDone, error) {
	dones := make([]acceptDone, len(reqs))
	err := s.tx(ctx, func(tx bun.Tx, out *outbox) error {
		for i, r := range reqs {
			dup, err := s.acceptOne(ctx, tx, r)
			if err != nil {
				return err
			}
			dones[i].dup = dup
			if dup == nil && r.due() {
				out.add(store.Notification{Topic: store.TopicRunDue})
			}
		}
		return nil
	})
	return dones, err
}

// acceptOne writes r's event and run in tx, or returns the original event
// and run when the event was delivered before (earlier in the same batch
// included).
func (s *Store) acceptOne(ctx context.Context, tx bun.Tx, r *acceptReq) (*store.EventAcceptResult, error) {
	ev, run := r.ev, r.run
	var ids []string
	err := s.scan(ctx, tx, &ids, s.sql.EventAccept,
		ev.ID, ev.Source, ev.DeliveryID, nullable(ev.Headers), ev.Body, ev.RunID, ev.Owner, ev.ReceivedAt)
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return s.acceptedBefore(ctx, tx, ev.Source, ev.DeliveryID)
	}
	_, err = s.exec(ctx, tx, s.sql.EventAcceptRun, run.ID, run.EventID, run.Owner, run.Agent,
		nullable(run.Payload), nullable(run.Targets), run.MaxAttempts, run.Timeout, run.RunAt, run.CreatedAt,
		nullable(run.TraceContext))
	return nil, err
}

// acceptStatement writes the requests in one PostgreSQL statement, and
// returns each one's outcome. A delivery twice in reqs is written once; the
// later ones are answered as delivered before. Once the statement has
// committed, only a request whose original could not be read back fails.
func (s *Store) acceptStatement(ctx context.Context, reqs []*acceptReq) ([]acceptDone, error) {
	n := len(reqs)
	var (
		ids, sources, deliveryIDs, runIDs, owners, agents = make([]string, 0, n), make([]string, 0, n),
			make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
		headers, payloads, targets = make([]*string, 0, n), make([]*string, 0, n), make([]*string, 0, n)
		traces                     = make([]*string, 0, n)
		bodies                     = make([][]byte, 0, n)
		received, runAts           = make([]time.Time, 0, n), make([]*time.Time, 0, n)
		maxAttempts, timeouts      = make([]int64, 0, n), make([]int64, 0, n)
	)
	first := make(map[[2]string]bool, n)
	for _, r := range reqs {
		ev, run := r.ev, r.run
		key := [2]string{ev.Source, ev.DeliveryID}
		if first[key] {
			continue
		}
		first[key] = true
		ids, sources, deliveryIDs, runIDs = append(ids, ev.ID), append(sources, ev.Source), append(deliveryIDs, ev.DeliveryID), append(runIDs, run.ID)
		owners, agents = append(owners, run.Owner), append(agents, run.Agent)
		headers, payloads, targets = append(headers, nullPtr(ev.Headers)), append(payloads, nullPtr(run.Payload)), append(targets, nullPtr(run.Targets))
		bodies, received, runAts = append(bodies, ev.Body), append(received, ev.ReceivedAt), append(runAts, timePtr(run.RunAt))
		maxAttempts, timeouts = append(maxAttempts, int64(run.MaxAttempts)), append(timeouts, int64(run.Timeout))
		traces = append(traces, nullPtr(run.TraceContext))
	}
	var inserted []struct {
		EventID string    `bun:"event_id"`
		RunAt   time.Time `bun:"run_at"`
	}
	err := s.write(ctx, func() error {
		return s.scan(ctx, s.db, &inserted, s.sql.EventAcceptBatch, ids, sources, deliveryIDs, headers, bodies, runIDs, received,
			owners, agents, payloads, targets, maxAttempts, timeouts, runAts, traces)
	})
	if err != nil {
		return nil, err
	}
	written := make(map[string]time.Time, len(inserted))
	for _, in := range inserted {
		written[in.EventID] = in.RunAt
	}
	due := false
	for _, r := range reqs {
		_, ok := written[r.ev.ID]
		due = due || ok && r.due()
	}
	if due {
		out := &outbox{notes: []store.Notification{{Topic: store.TopicRunDue}}}
		s.publish(out)
		s.kickDue(out)
	}
	dones := make([]acceptDone, len(reqs))
	for i, r := range reqs {
		at, ok := written[r.ev.ID]
		if !ok {
			dup, err := s.acceptedBefore(ctx, s.db, r.ev.Source, r.ev.DeliveryID)
			dones[i] = acceptDone{dup: dup, err: translate(err)}
			continue
		}
		dones[i].runAt = at
	}
	return dones, nil
}

// nullPtr is s, or nil (SQL NULL) when s is empty.
func nullPtr(s string) *string {
	if s == "" {
		return nil
	}
	// Not &s: a parameter whose address escapes is allocated at every
	// call, empty or not.
	p := new(string)
	*p = s
	return p
}
