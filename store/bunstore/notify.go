package bunstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/go-kit/log/level"
	"github.com/jackc/pgx/v5"
	"github.com/uptrace/bun"

	"github.com/heraldhq/herald/store"
)

// maxNotifications is the most notifications one transaction sends one by
// one; a transaction with more sends a single resync.
const maxNotifications = 64

// wireNote is a notification as it crosses NOTIFY.
type wireNote struct {
	Origin  string      `json:"o,omitempty"`
	Topic   store.Topic `json:"t"`
	ID      string      `json:"id,omitempty"`
	Version int64       `json:"v,omitempty"`
	Deleted bool        `json:"d,omitempty"`
	// Due is, for TopicRunDue, the oldest RunAt of the runs that became
	// due when the sender knew it: the receiver's claims need not look for
	// due runs before it (claimfloor.go).
	Due time.Time `json:"due,omitzero"`
}

// channelName is the NOTIFY channel of a schema, so that stores in different
// schemas of one database do not hear each other.
func channelName(schema string) string {
	sum := sha256.Sum256([]byte(schema))
	return "herald_" + hex.EncodeToString(sum[:8])
}

// sendNotifications queues out's notifications in tx, so they reach other
// handles on the database when (and only if) tx commits: with pg_notify on
// PostgreSQL, as rows of herald_notifications on SQLite. origin names the
// sender; a handle ignores what it sent itself, since it publishes that in
// process after the commit ("" reaches every handle, the sender's too).
func (s *Store) sendNotifications(ctx context.Context, tx bun.IDB, out *outbox, origin string) error {
	if len(out.notes) == 0 {
		return nil
	}
	notes := out.notes
	if len(notes) > maxNotifications {
		notes = []store.Notification{{Topic: store.TopicResync}}
	}
	payloads := make([]string, len(notes))
	for i, n := range notes {
		w := wireNote{Origin: origin, Topic: n.Topic, ID: n.ID, Version: n.Version, Deleted: n.Deleted}
		if n.Topic == store.TopicRunDue {
			w.Due = out.dueFrom
		}
		b, _ := json.Marshal(w)
		payloads[i] = string(b)
	}
	if s.pg() {
		_, err := s.exec(ctx, tx, s.sql.Notify, s.channel, payloads)
		return err
	}
	args := make([][]any, len(payloads))
	for i, p := range payloads {
		args[i] = []any{p}
	}
	_, err := s.execEach(ctx, tx, s.sql.Notify, args)
	return err
}

// inTx is what a transaction of the store's own notifies in the
// transaction: on PostgreSQL, all but TopicRunDue, which kickDue sends after
// the commit. NOTIFY holds a database-wide lock from the notifying
// statement to the commit, so notifying in every enqueue serialized the
// commits of concurrent enqueues (no group commit); run-due hints are
// coalesced instead, one NOTIFY at a time.
func (s *Store) inTx(out *outbox) *outbox {
	if !s.pg() {
		return out
	}
	kept := &outbox{}
	for _, n := range out.notes {
		if n.Topic != store.TopicRunDue {
			kept.notes = append(kept.notes, n)
		}
	}
	return kept
}

// kickDue asks the run-due notifier to tell other processes, when out has
// a TopicRunDue notification that inTx held back.
func (s *Store) kickDue(out *outbox) {
	if !s.pg() {
		return
	}
	for _, n := range out.notes {
		if n.Topic == store.TopicRunDue {
			s.dueMu.Lock()
			if !s.duePending || out.dueFrom.IsZero() || out.dueFrom.Before(s.dueFrom) {
				s.dueFrom = out.dueFrom
			}
			s.duePending = true
			s.dueMu.Unlock()
			select {
			case s.dueCh <- struct{}{}:
			default: // one is pending: it covers this one
			}
			return
		}
	}
}

// dueGap is the least time between two run-due notifications of one
// store: the kicks of a burst of enqueues make one NOTIFY (a NOTIFY is a
// transaction of its own, which at a few hundred a second cost busy
// enqueuers a tenth of their throughput). The first kick after a quiet
// spell is sent at once, so an idle node hears of a new run within a few
// milliseconds; a busy one within dueGap. Polling is the safety net for a
// notification lost on the way.
const dueGap = 10 * time.Millisecond

// dueLoop sends one TopicRunDue notification per kick, at most one per
// dueGap; kicks that arrive meanwhile coalesce into the next.
func (s *Store) dueLoop() {
	defer s.bg.Done()
	gap := time.NewTimer(0)
	defer gap.Stop()
	for {
		select {
		case <-s.closed:
			return
		case <-s.dueCh:
		}
		select {
		case <-s.closed:
			return
		case <-gap.C:
		}
		gap.Reset(dueGap)
		// The kicks since the last notification: the oldest RunAt they
		// made due, zero when one of them did not know it.
		s.dueMu.Lock()
		out := &outbox{notes: []store.Notification{{Topic: store.TopicRunDue}}, dueFrom: s.dueFrom}
		s.duePending = false
		s.dueMu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := s.sendNotifications(ctx, s.db, out, s.origin)
		cancel()
		if err != nil && !s.isClosed() {
			level.Warn(s.logger).Log("msg", "notify other processes of due runs", "err", err)
		}
	}
}

// receive publishes a notification another handle sent.
func (s *Store) receive(payload string) {
	var w wireNote
	if json.Unmarshal([]byte(payload), &w) != nil || w.Origin == s.origin {
		return
	}
	s.note(store.Notification{Topic: w.Topic, ID: w.ID, Version: w.Version, Deleted: w.Deleted}, w.Due)
}

// announce publishes notifications of a write that has committed: in
// process at once, and to other processes through NOTIFY.
func (s *Store) announce(ctx context.Context, notes ...store.Notification) error {
	out := &outbox{notes: notes}
	s.publish(out)
	return s.write(ctx, func() error { return s.sendNotifications(ctx, s.db, out, s.origin) })
}

// stopper is a background loop of the store.
type stopper interface{ stop() }

// listener holds a dedicated PostgreSQL connection that LISTENs on the
// store's channel and republishes what other processes send.
type listener struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func startListener(ctx context.Context, s *Store, dsn string) (*listener, error) {
	conn, err := listenConn(ctx, dsn, s.channel)
	if err != nil {
		return nil, fmt.Errorf("bunstore: listen: %w", translate(err))
	}
	lctx, cancel := context.WithCancel(context.Background())
	l := &listener{cancel: cancel}
	l.wg.Add(1)
	go l.loop(lctx, s, dsn, conn)
	return l, nil
}

func listenConn(ctx context.Context, dsn, channel string) (*pgx.Conn, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{channel}.Sanitize()); err != nil {
		_ = conn.Close(ctx)
		return nil, err
	}
	return conn, nil
}

func (l *listener) stop() {
	l.cancel()
	l.wg.Wait()
}

func (l *listener) loop(ctx context.Context, s *Store, dsn string, conn *pgx.Conn) {
	defer l.wg.Done()
	backoff := 100 * time.Millisecond
	for {
		for conn != nil {
			n, err := conn.WaitForNotification(ctx)
			if err != nil {
				_ = conn.Close(context.Background())
				conn = nil
				if ctx.Err() != nil {
					return
				}
				level.Warn(s.logger).Log("msg", "notification listener lost its connection", "err", err)
				// Whatever was sent while we reconnect is lost: tell
				// subscribers to re-read.
				s.note(store.Notification{Topic: store.TopicResync}, time.Time{})
				break
			}
			backoff = 100 * time.Millisecond
			s.receive(n.Payload)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
		c, err := listenConn(ctx, dsn, s.channel)
		if err != nil {
			level.Warn(s.logger).Log("msg", "notification listener cannot reconnect", "err", err, "retry_in", backoff)
			continue
		}
		conn = c
		s.note(store.Notification{Topic: store.TopicResync}, time.Time{})
	}
}

// SQLite notification polling.
const (
	// pollInterval is how often a SQLite handle reads new notifications.
	pollInterval = 100 * time.Millisecond
	// notificationsKept is how many notification rows a SQLite database
	// keeps; a handle further behind than that resyncs.
	notificationsKept = 10000
)

// poller reads the notifications other handles on a SQLite database wrote.
type poller struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func startPoller(ctx context.Context, s *Store) (*poller, error) {
	var last int64
	if err := s.scan(ctx, s.db, &last, s.sql.NotifyLast); err != nil {
		return nil, fmt.Errorf("bunstore: read notifications: %w", translate(err))
	}
	pctx, cancel := context.WithCancel(context.Background())
	p := &poller{cancel: cancel}
	p.wg.Add(1)
	go p.loop(pctx, s, last)
	return p, nil
}

func (p *poller) stop() {
	p.cancel()
	p.wg.Wait()
}

func (p *poller) loop(ctx context.Context, s *Store, last int64) {
	defer p.wg.Done()
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for polls := 1; ; polls++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var rows []struct {
			Seq     int64  `bun:"seq"`
			Payload string `bun:"payload"`
		}
		err := s.scan(ctx, s.db, &rows, s.sql.NotifyRead, last)
		if err != nil {
			if ctx.Err() == nil {
				level.Warn(s.logger).Log("msg", "read notifications", "err", err)
			}
			continue
		}
		if len(rows) > 0 && rows[0].Seq > last+notificationsKept {
			s.note(store.Notification{Topic: store.TopicResync}, time.Time{})
		}
		for _, r := range rows {
			s.receive(r.Payload)
			last = r.Seq
		}
		if polls%100 == 0 { // about every 10 s
			_ = s.write(ctx, func() error {
				_, err := s.exec(ctx, s.db, s.sql.NotifyTrim, notificationsKept)
				return err
			})
		}
	}
}
