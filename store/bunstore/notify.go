package bunstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
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
}

// channelName is the NOTIFY channel of a schema, so that stores in different
// schemas of one database do not hear each other.
func channelName(schema string) string {
	sum := sha256.Sum256([]byte(schema))
	return "herald_" + hex.EncodeToString(sum[:8])
}

// sendNotifications queues out's notifications in tx with pg_notify, so they
// are delivered to other processes when (and only if) tx commits. origin
// names the sender; the sender's own listener ignores what it sent, since it
// publishes that in process after the commit. On SQLite it does nothing.
func (s *Store) sendNotifications(ctx context.Context, tx bun.IDB, out *outbox, origin string) error {
	if !s.pg() || len(out.notes) == 0 {
		return nil
	}
	notes := out.notes
	if len(notes) > maxNotifications {
		notes = []store.Notification{{Topic: store.TopicResync}}
	}
	var q strings.Builder
	args := make([]any, 0, 2*len(notes))
	q.WriteString("SELECT ")
	for i, n := range notes {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("pg_notify(?, ?)")
		b, _ := json.Marshal(wireNote{Origin: origin, Topic: n.Topic, ID: n.ID, Version: n.Version, Deleted: n.Deleted})
		args = append(args, s.channel, string(b))
	}
	_, err := tx.ExecContext(ctx, q.String(), args...)
	return err
}

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
				s.hub.Publish(store.Notification{Topic: store.TopicResync})
				break
			}
			backoff = 100 * time.Millisecond
			var w wireNote
			if json.Unmarshal([]byte(n.Payload), &w) != nil || w.Origin == s.origin {
				continue
			}
			s.hub.Publish(store.Notification{Topic: w.Topic, ID: w.ID, Version: w.Version, Deleted: w.Deleted})
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
		s.hub.Publish(store.Notification{Topic: store.TopicResync})
	}
}
