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

// workspacePutSQL creates a workspace or replaces it, keeping its
// creation time, and returns the stored row.
const workspacePutSQL = `INSERT INTO herald_workspaces (id, source, name, owner, secret, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET source = excluded.source, name = excluded.name, owner = excluded.owner,
	secret = excluded.secret, updated_at = excluded.updated_at
RETURNING *`

// workspaceGetSQL reads one workspace.
const workspaceGetSQL = `SELECT * FROM herald_workspaces WHERE id = ?`

// workspaceListSQL lists a page of workspaces by id, from after a cursor
// (” for the first page), of one owner or (” ) of all.
const workspaceListSQL = `SELECT * FROM herald_workspaces WHERE (? = '' OR owner = ?) AND id > ? ORDER BY id LIMIT ?`

// workspaceListPG is workspaceListSQL with ids compared as bytes, as
// SQLite and Go compare them, whatever the database's collation.
const workspaceListPG = `SELECT * FROM herald_workspaces WHERE (? = '' OR owner = ?) AND id COLLATE "C" > ? ORDER BY id COLLATE "C" LIMIT ?`

// workspaceDeleteSQL deletes one workspace.
const workspaceDeleteSQL = `DELETE FROM herald_workspaces WHERE id = ?`

// WorkspacePut implements store.WorkspaceStore.
func (s *Store) WorkspacePut(ctx context.Context, w *store.Workspace) (*store.Workspace, error) {
	c, err := storekit.PrepareWorkspace(w, s.clock())
	if err != nil {
		return nil, fmt.Errorf("put workspace: %w", err)
	}
	var rows []workspaceRow
	err = s.write(ctx, func() error {
		return s.db.NewRaw(workspacePutSQL, c.ID, c.Source, c.Name, c.Owner, c.Secret, c.CreatedAt, c.UpdatedAt).Scan(ctx, &rows)
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
	if err := s.db.NewRaw(workspaceGetSQL, id).Scan(ctx, &rows); err != nil {
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
	q := workspaceListSQL
	if s.pg() {
		q = workspaceListPG
	}
	var rows []workspaceRow
	if err := s.db.NewRaw(q, p.Owner, p.Owner, p.Cursor, limit+1).Scan(ctx, &rows); err != nil {
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
	if err := s.deleteOne(ctx, workspaceDeleteSQL, id); err != nil {
		return fmt.Errorf("delete workspace %q: %w", id, err)
	}
	return nil
}
