package bunstore

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/store/storekit"
)

var _ store.WorkspaceStore = (*Store)(nil)

// workspaceRow is a row of herald_workspaces.
type workspaceRow struct {
	bun.BaseModel `bun:"table:herald_workspaces"`

	ID        string    `bun:"id,pk"`
	Source    string    `bun:"source"`
	Name      string    `bun:"name"`
	Owner     string    `bun:"owner"`
	Secret    []byte    `bun:"secret"`
	CreatedAt time.Time `bun:"created_at"`
	UpdatedAt time.Time `bun:"updated_at"`
}

func (r *workspaceRow) workspace() *store.Workspace {
	return &store.Workspace{ID: r.ID, Source: r.Source, Name: r.Name, Owner: r.Owner, Secret: r.Secret,
		CreatedAt: utc(r.CreatedAt), UpdatedAt: utc(r.UpdatedAt)}
}

// WorkspacePut implements store.WorkspaceStore.
func (s *Store) WorkspacePut(ctx context.Context, w *store.Workspace) (*store.Workspace, error) {
	c, err := storekit.PrepareWorkspace(w, s.stamp())
	if err != nil {
		return nil, fmt.Errorf("put workspace: %w", err)
	}
	var rows []workspaceRow
	err = s.write(ctx, func() error {
		return s.scan(ctx, s.db, &rows, s.sql.WorkspacePut, c.ID, c.Source, c.Name, c.Owner, c.Secret, c.CreatedAt, c.UpdatedAt)
	})
	if err == nil && len(rows) != 1 {
		err = fmt.Errorf("%w: the workspace was not written", store.ErrUnavailable)
	}
	if err != nil {
		return nil, fmt.Errorf("put workspace %q: %w", c.ID, err)
	}
	return rows[0].workspace(), nil
}

// WorkspaceGet implements store.WorkspaceStore.
func (s *Store) WorkspaceGet(ctx context.Context, id string) (*store.Workspace, error) {
	if s.isClosed() {
		return nil, store.ErrClosed
	}
	var rows []workspaceRow
	if err := s.scan(ctx, s.db, &rows, s.sql.WorkspaceGet, id); err != nil {
		return nil, fmt.Errorf("get workspace %q: %w", id, translate(err))
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("get workspace %q: %w", id, store.ErrNotFound)
	}
	return rows[0].workspace(), nil
}

// WorkspaceList implements store.WorkspaceStore.
func (s *Store) WorkspaceList(ctx context.Context, p *store.WorkspaceListParams) (*store.WorkspacePage, error) {
	if s.isClosed() {
		return nil, store.ErrClosed
	}
	limit := storekit.ListLimit(p.Limit)
	var rows []workspaceRow
	if err := s.scan(ctx, s.db, &rows, s.sql.WorkspaceList, p.Owner, p.Cursor, limit+1); err != nil {
		return nil, fmt.Errorf("list workspaces: %w", translate(err))
	}
	page := &store.WorkspacePage{}
	for i := range rows {
		if i == limit {
			page.Next = rows[i-1].ID
			break
		}
		page.Workspaces = append(page.Workspaces, rows[i].workspace())
	}
	return page, nil
}

// WorkspaceDelete implements store.WorkspaceStore.
func (s *Store) WorkspaceDelete(ctx context.Context, id string) error {
	if err := s.deleteOne(ctx, s.sql.WorkspaceDelete, id); err != nil {
		return fmt.Errorf("delete workspace %q: %w", id, err)
	}
	return nil
}
