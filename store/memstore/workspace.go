package memstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/store/storekit"
)

var _ store.WorkspaceStore = (*Store)(nil)

// WorkspacePut implements store.WorkspaceStore.
func (s *Store) WorkspacePut(ctx context.Context, w *store.Workspace) (*store.Workspace, error) {
	now, err := s.begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("put workspace: %w", err)
	}
	defer s.mu.Unlock()
	c, err := storekit.PrepareWorkspace(w, now)
	if err != nil {
		return nil, fmt.Errorf("put workspace: %w", err)
	}
	if old, ok := s.workspaces[c.ID]; ok {
		c.CreatedAt = old.CreatedAt
	}
	s.workspaces[c.ID] = c
	return cloneWorkspace(c), nil
}

// WorkspaceGet implements store.WorkspaceStore.
func (s *Store) WorkspaceGet(ctx context.Context, id string) (*store.Workspace, error) {
	if _, err := s.begin(ctx); err != nil {
		return nil, fmt.Errorf("get workspace %q: %w", id, err)
	}
	defer s.mu.Unlock()
	w, ok := s.workspaces[id]
	if !ok {
		return nil, fmt.Errorf("get workspace %q: %w", id, store.ErrNotFound)
	}
	return cloneWorkspace(w), nil
}

// WorkspaceList implements store.WorkspaceStore.
func (s *Store) WorkspaceList(ctx context.Context, p *store.WorkspaceListParams) (*store.WorkspacePage, error) {
	if _, err := s.begin(ctx); err != nil {
		return nil, fmt.Errorf("list workspaces: %w", err)
	}
	defer s.mu.Unlock()
	var all []*store.Workspace
	for _, w := range s.workspaces {
		if (p.Owner == "" || w.Owner == p.Owner) && (p.Cursor == "" || w.ID > p.Cursor) {
			all = append(all, w)
		}
	}
	slices.SortFunc(all, func(a, b *store.Workspace) int { return cmp.Compare(a.ID, b.ID) })
	limit := storekit.ListLimit(p.Limit)
	page := &store.WorkspacePage{}
	for i, w := range all {
		if i == limit {
			page.Next = all[i-1].ID
			break
		}
		page.Workspaces = append(page.Workspaces, cloneWorkspace(w))
	}
	return page, nil
}

// WorkspaceDelete implements store.WorkspaceStore.
func (s *Store) WorkspaceDelete(ctx context.Context, id string) error {
	if _, err := s.begin(ctx); err != nil {
		return fmt.Errorf("delete workspace %q: %w", id, err)
	}
	defer s.mu.Unlock()
	if _, ok := s.workspaces[id]; !ok {
		return fmt.Errorf("delete workspace %q: %w", id, store.ErrNotFound)
	}
	delete(s.workspaces, id)
	return nil
}

func cloneWorkspace(w *store.Workspace) *store.Workspace {
	c := *w
	c.Secret = cloneBytes(w.Secret)
	return &c
}
