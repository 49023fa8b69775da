package bunstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/uptrace/bun"

	"github.com/heraldhq/herald/store"
)

// CursorGet implements store.CursorStore.
func (s *Store) CursorGet(ctx context.Context, key store.CursorKey) (*store.Cursor, error) {
	if s.isClosed() {
		return nil, store.ErrClosed
	}
	if err := store.CheckCursorKey(key); err != nil {
		return nil, err
	}
	row := new(cursorRow)
	err := s.db.NewSelect().Model(row).
		Where("source = ? AND workspace = ? AND channel = ?", key.Source, key.Workspace, key.Channel).Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("get cursor %s/%s/%s: %w", key.Source, key.Workspace, key.Channel, translate(err))
	}
	return &store.Cursor{CursorKey: key, Latest: row.Latest, PageCursor: row.PageCursor, UpdatedAt: utc(row.UpdatedAt)}, nil
}

// CursorSet implements store.CursorStore.
func (s *Store) CursorSet(ctx context.Context, c *store.Cursor) (*store.Cursor, error) {
	if c == nil {
		return nil, store.Invalid("cursor", "must not be nil")
	}
	if err := store.CheckCursorKey(c.CursorKey); err != nil {
		return nil, err
	}
	row := &cursorRow{Source: c.Source, Workspace: c.Workspace, Channel: c.Channel,
		Latest: c.Latest, PageCursor: c.PageCursor, UpdatedAt: s.clock()}
	err := s.write(func() error {
		_, err := s.db.NewInsert().Model(row).
			On("CONFLICT (source, workspace, channel) DO UPDATE").
			Set("latest = EXCLUDED.latest, page_cursor = EXCLUDED.page_cursor, updated_at = EXCLUDED.updated_at").
			Exec(ctx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("set cursor %s/%s/%s: %w", c.Source, c.Workspace, c.Channel, err)
	}
	return &store.Cursor{CursorKey: c.CursorKey, Latest: row.Latest, PageCursor: row.PageCursor, UpdatedAt: row.UpdatedAt}, nil
}

// MessageUpsert implements store.MessageStore.
func (s *Store) MessageUpsert(ctx context.Context, msgs ...*store.Message) (int, error) {
	ms, err := store.PrepareMessages(msgs, s.limits)
	if err != nil {
		return 0, err
	}
	if len(ms) == 0 {
		return 0, nil
	}
	now := s.clock()
	// One row per key: the last of the batch wins, as if applied in order.
	index := map[[4]string]int{}
	var rows []messageRow
	for _, m := range ms {
		r := messageRow{Source: m.Source, Workspace: m.Workspace, Channel: m.Channel, TS: m.TS, ThreadTS: m.ThreadTS,
			User: m.User, UserName: m.UserName, Text: m.Text, Raw: string(m.Raw), CollectedAt: now}
		k := [4]string{m.Source, m.Workspace, m.Channel, m.TS}
		if i, ok := index[k]; ok {
			rows[i] = r
			continue
		}
		index[k] = len(rows)
		rows = append(rows, r)
	}
	var inserted int
	err = s.tx(ctx, func(tx bun.Tx, _ *outbox) error {
		q := tx.NewInsert().Model(&rows).
			On("CONFLICT (source, workspace, channel, ts) DO UPDATE").
			Set("thread_ts = EXCLUDED.thread_ts, user_id = EXCLUDED.user_id, user_name = EXCLUDED.user_name, text = EXCLUDED.text, raw = EXCLUDED.raw")
		if s.pg() {
			// xmax is zero on a row this statement inserted.
			var fresh []bool
			if err := q.Returning("(xmax = 0)").Scan(ctx, &fresh); err != nil {
				return err
			}
			inserted = 0
			for _, f := range fresh {
				if f {
					inserted++
				}
			}
			return nil
		}
		var conds []string
		var args []any
		for _, r := range rows {
			conds = append(conds, "(?, ?, ?, ?)")
			args = append(args, r.Source, r.Workspace, r.Channel, r.TS)
		}
		var known int
		if err := tx.NewRaw("SELECT count(*) FROM herald_messages WHERE (source, workspace, channel, ts) IN (VALUES "+
			strings.Join(conds, ", ")+")", args...).Scan(ctx, &known); err != nil {
			return err
		}
		inserted = len(rows) - known
		_, err := q.Exec(ctx)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("upsert messages: %w", err)
	}
	return inserted, nil
}

// MessageList implements store.MessageStore.
func (s *Store) MessageList(ctx context.Context, p *store.MessageListParams) ([]*store.Message, error) {
	if s.isClosed() {
		return nil, store.ErrClosed
	}
	if p == nil {
		return nil, store.Invalid("params", "must not be nil")
	}
	if err := store.CheckCursorKey(p.CursorKey); err != nil {
		return nil, err
	}
	var rows []messageRow
	q := s.db.NewSelect().Model(&rows).
		Where("source = ? AND workspace = ? AND channel = ?", p.Source, p.Workspace, p.Channel).
		OrderExpr("ts ASC").Limit(int64(store.ListLimit(p.Limit)))
	if p.After != "" {
		q = q.Where("ts > ?", p.After)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, fmt.Errorf("list messages: %w", translate(err))
	}
	out := make([]*store.Message, len(rows))
	for i := range rows {
		out[i] = rows[i].message()
	}
	return out, nil
}
