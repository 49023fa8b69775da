package bunstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/uptrace/bun"

	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/store/storekit"
)

// CursorGet implements store.CursorStore.
func (s *Store) CursorGet(ctx context.Context, key store.CursorKey) (*store.Cursor, error) {
	if s.isClosed() {
		return nil, store.ErrClosed
	}
	if err := storekit.CheckCursorKey(key); err != nil {
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
	if err := storekit.CheckCursorKey(c.CursorKey); err != nil {
		return nil, err
	}
	row := &cursorRow{Source: c.Source, Workspace: c.Workspace, Channel: c.Channel,
		Latest: c.Latest, PageCursor: c.PageCursor, UpdatedAt: s.stamp()}
	err := s.write(ctx, func() error {
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
	ms, err := storekit.PrepareMessages(msgs, s.limits)
	if err != nil {
		return 0, err
	}
	if len(ms) == 0 {
		return 0, nil
	}
	now := s.stamp()
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
	if s.pg() {
		inserted, err = s.upsertMessagesPG(ctx, rows)
	} else {
		inserted, err = s.upsertMessagesSQLite(ctx, rows)
	}
	if err != nil {
		return 0, fmt.Errorf("upsert messages: %w", err)
	}
	return inserted, nil
}

// upsertMessagesPG upserts rows on PostgreSQL in one statement
// (message_upsert_many) and returns how many it inserted.
func (s *Store) upsertMessagesPG(ctx context.Context, rows []messageRow) (int, error) {
	// In key order: two batches that share keys lock them in one order.
	sorted := slices.Clone(rows)
	slices.SortFunc(sorted, func(a, b messageRow) int {
		return cmp.Or(strings.Compare(a.Source, b.Source), strings.Compare(a.Workspace, b.Workspace),
			strings.Compare(a.Channel, b.Channel), strings.Compare(a.TS, b.TS))
	})
	args := append([]any{sorted[0].CollectedAt}, messageArrays(sorted)...)
	var inserted int
	err := s.tx(ctx, func(tx bun.Tx, _ *outbox) error {
		res, err := s.query(ctx, tx, s.sql.MessageUpsertMany, args...)
		if err != nil {
			return err
		}
		defer res.Close()
		for res.Next() {
			if err := res.Scan(&inserted); err != nil {
				return err
			}
		}
		return res.Err()
	})
	return inserted, err
}

// upsertMessagesSQLite upserts rows on SQLite one prepared statement run per
// row, as insertRuns does: parsing one statement of a thousand rows costs
// SQLite more than running a thousand prepared ones. Each row is first
// inserted unless its key is taken, which changes one row exactly when it
// is new; the rows not inserted are then updated. (An upsert's update also
// counts as a change, so its count could not tell them apart.)
func (s *Store) upsertMessagesSQLite(ctx context.Context, rows []messageRow) (int, error) {
	inserts := make([][]any, len(rows))
	for i := range rows {
		inserts[i] = messageInsertArgs(&rows[i])
	}
	var inserted int
	err := s.tx(ctx, func(tx bun.Tx, _ *outbox) error {
		changed, err := s.execEach(ctx, tx, s.sql.MessageInsert, inserts)
		if err != nil {
			return err
		}
		inserted = 0
		var updates [][]any
		for i, n := range changed {
			if n > 0 {
				inserted++
			} else {
				updates = append(updates, messageUpdateArgs(&rows[i]))
			}
		}
		if len(updates) > 0 {
			_, err = s.execEach(ctx, tx, s.sql.MessageUpdate, updates)
		}
		return err
	})
	return inserted, err
}

// messageInsertArgs are r's values for message_insert, as bun would write
// them: empty strings of nullable columns are NULL.
func messageInsertArgs(r *messageRow) []any {
	return []any{r.Source, r.Workspace, r.Channel, r.TS, nullable(r.ThreadTS), nullable(r.User), nullable(r.UserName),
		nullable(r.Text), nullable(r.Raw), r.CollectedAt}
}

// messageUpdateArgs are r's values for message_update.
func messageUpdateArgs(r *messageRow) []any {
	return []any{nullable(r.ThreadTS), nullable(r.User), nullable(r.UserName), nullable(r.Text), nullable(r.Raw),
		r.Source, r.Workspace, r.Channel, r.TS}
}

// messageArrays are rows as one array per column of message_upsert_many's
// unnest; NULLs are nil pointers.
func messageArrays(rows []messageRow) []any {
	n := len(rows)
	sources, workspaces, channels, tss := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	threads, users, names, texts, raws := make([]*string, n), make([]*string, n), make([]*string, n), make([]*string, n),
		make([]*string, n)
	for i := range rows {
		r := &rows[i]
		sources[i], workspaces[i], channels[i], tss[i] = r.Source, r.Workspace, r.Channel, r.TS
		threads[i], users[i], names[i], texts[i], raws[i] = nullPtr(r.ThreadTS), nullPtr(r.User), nullPtr(r.UserName),
			nullPtr(r.Text), nullPtr(r.Raw)
	}
	return []any{sources, workspaces, channels, tss, threads, users, names, texts, raws}
}

// MessageList implements store.MessageStore.
func (s *Store) MessageList(ctx context.Context, p *store.MessageListParams) ([]*store.Message, error) {
	if s.isClosed() {
		return nil, store.ErrClosed
	}
	if p == nil {
		return nil, store.Invalid("params", "must not be nil")
	}
	if err := storekit.CheckCursorKey(p.CursorKey); err != nil {
		return nil, err
	}
	var rows []messageRow
	q := s.db.NewSelect().Model(&rows).
		Where("source = ? AND workspace = ? AND channel = ?", p.Source, p.Workspace, p.Channel).
		OrderExpr("ts ASC").Limit(int64(storekit.ListLimit(p.Limit)))
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
