package store

import (
	"context"
	"time"
)

// Workspace is a chat workspace whose history is backfilled: its id at the
// source (a Slack team id), who owns it, and its credentials, sealed (the
// store keeps them as it is given them: encrypting them is the caller's
// job, see package keyring).
type Workspace struct {
	// ID is the workspace's id at its source ("T012AB3CD"). Required, at
	// most 200 bytes.
	ID string
	// Source names the source ("slack"). Required.
	Source string
	// Name is a readable name; at most 200 bytes.
	Name string
	// Owner owns the workspace: only they (and admins) see it, and runs
	// that read it. Required.
	Owner string
	// Secret is the sealed credentials. Required.
	Secret []byte
	// CreatedAt and UpdatedAt are set by the store.
	CreatedAt time.Time
	UpdatedAt time.Time
}

// WorkspaceListParams selects workspaces for WorkspaceList.
type WorkspaceListParams struct {
	// Owner, when set, keeps that owner's workspaces only.
	Owner string
	// Cursor continues a listing: pass the Next of the previous page.
	Cursor string
	// Limit caps the page size: zero means ListLimitDefault, and it is at
	// most ListLimitMax.
	Limit int
}

// WorkspacePage is one page of workspaces, by id.
type WorkspacePage struct {
	Workspaces []*Workspace
	// Next is the cursor of the next page; empty on the last page.
	Next string
}

// WorkspaceStore keeps the workspaces whose history the backfill collects
// (behind the REST API's /v1/workspaces).
type WorkspaceStore interface {
	// WorkspacePut creates workspace w, or replaces its Source, Name,
	// Owner and Secret, and returns the stored workspace (CreatedAt kept
	// on a replace).
	WorkspacePut(ctx context.Context, w *Workspace) (*Workspace, error)
	// WorkspaceGet returns the workspace, or ErrNotFound.
	WorkspaceGet(ctx context.Context, id string) (*Workspace, error)
	// WorkspaceList returns one page of workspaces.
	WorkspaceList(ctx context.Context, params *WorkspaceListParams) (*WorkspacePage, error)
	// WorkspaceDelete removes the workspace (its messages and cursors
	// stay), or returns ErrNotFound.
	WorkspaceDelete(ctx context.Context, id string) error
}
