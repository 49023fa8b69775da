package memstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/store/storekit"
)

// CursorGet implements store.CursorStore.
func (s *Store) CursorGet(ctx context.Context, key store.CursorKey) (*store.Cursor, error) {
	if _, err := s.begin(ctx); err != nil {
		return nil, fmt.Errorf("get cursor: %w", err)
	}
	defer s.mu.Unlock()
	if err := storekit.CheckCursorKey(key); err != nil {
		return nil, fmt.Errorf("get cursor: %w", err)
	}
	c, ok := s.cursors[key]
	if !ok {
		return nil, fmt.Errorf("get cursor %s/%s/%s: %w", key.Source, key.Workspace, key.Channel, store.ErrNotFound)
	}
	return cloneCursor(c), nil
}

// CursorSet implements store.CursorStore.
func (s *Store) CursorSet(ctx context.Context, c *store.Cursor) (*store.Cursor, error) {
	now, err := s.begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("set cursor: %w", err)
	}
	defer s.mu.Unlock()
	if c == nil {
		return nil, fmt.Errorf("set cursor: %w", store.Invalid("cursor", "must not be nil"))
	}
	if err := storekit.CheckCursorKey(c.CursorKey); err != nil {
		return nil, fmt.Errorf("set cursor: %w", err)
	}
	stored := cloneCursor(c)
	stored.UpdatedAt = now
	s.cursors[c.CursorKey] = stored
	return cloneCursor(stored), nil
}

// MessageUpsert implements store.MessageStore.
func (s *Store) MessageUpsert(ctx context.Context, msgs ...*store.Message) (int, error) {
	now, err := s.begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("upsert messages: %w", err)
	}
	defer s.mu.Unlock()
	prepared, err := storekit.PrepareMessages(msgs, s.limits)
	if err != nil {
		return 0, fmt.Errorf("upsert messages: %w", err)
	}
	added := 0
	for _, m := range prepared {
		key := store.CursorKey{Source: m.Source, Workspace: m.Workspace, Channel: m.Channel}
		channel := s.messages[key]
		if channel == nil {
			channel = make(map[string]*store.Message)
			s.messages[key] = channel
		}
		if old, ok := channel[m.TS]; ok {
			old.ThreadTS = m.ThreadTS
			old.User = m.User
			old.UserName = m.UserName
			old.Text = m.Text
			old.Raw = cloneJSON(m.Raw)
			continue
		}
		stored := cloneMessage(m)
		stored.CollectedAt = now
		channel[m.TS] = stored
		added++
	}
	return added, nil
}

// MessageList implements store.MessageStore.
func (s *Store) MessageList(ctx context.Context, params *store.MessageListParams) ([]*store.Message, error) {
	if _, err := s.begin(ctx); err != nil {
		return nil, fmt.Errorf("list messages: %w", err)
	}
	defer s.mu.Unlock()
	if params == nil {
		return nil, fmt.Errorf("list messages: %w", store.Invalid("params", "must not be nil"))
	}
	if err := storekit.CheckCursorKey(params.CursorKey); err != nil {
		return nil, fmt.Errorf("list messages: %w", err)
	}
	var rows []*store.Message
	for ts, m := range s.messages[params.CursorKey] {
		if params.After == "" || ts > params.After {
			rows = append(rows, m)
		}
	}
	slices.SortFunc(rows, func(a, b *store.Message) int { return cmp.Compare(a.TS, b.TS) })
	rows = rows[:min(storekit.ListLimit(params.Limit), len(rows))]
	out := make([]*store.Message, len(rows))
	for i, m := range rows {
		out[i] = cloneMessage(m)
	}
	return out, nil
}
