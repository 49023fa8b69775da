package backfill

import (
	"context"
	"errors"
	"fmt"

	"github.com/heraldhq/herald/keyring"
	"github.com/heraldhq/herald/store"
)

// OpenFunc makes the Source of a workspace from its record and its token
// (for Slack: slack.New with the token as Config.Token).
type OpenFunc func(w *store.Workspace, token keyring.Secret) (Source, error)

// Vault keeps workspaces and their tokens: the tokens sealed with a
// keyring (AES-256-GCM, bound to the workspace id) in a
// store.WorkspaceStore, opened only to make a run's Source. It is the
// Workspaces of the backfill agent.
type Vault struct {
	ws   store.WorkspaceStore
	kr   *keyring.Keyring
	open OpenFunc
}

var _ Workspaces = (*Vault)(nil)

// NewVault returns a Vault on ws sealing with kr; open makes Sources.
func NewVault(ws store.WorkspaceStore, kr *keyring.Keyring, open OpenFunc) (*Vault, error) {
	if ws == nil || kr == nil || open == nil {
		return nil, errors.New("backfill: NewVault needs a WorkspaceStore, a Keyring and an OpenFunc")
	}
	return &Vault{ws: ws, kr: kr, open: open}, nil
}

// Put creates or replaces workspace w (its Secret is ignored) with token,
// sealed under the keyring's primary key.
func (v *Vault) Put(ctx context.Context, w *store.Workspace, token keyring.Secret) (*store.Workspace, error) {
	if token == "" {
		return nil, store.Invalid("bot_token", "is required")
	}
	sealed, err := v.kr.Seal([]byte(token.Reveal()), []byte(w.ID))
	if err != nil {
		return nil, fmt.Errorf("seal the token of workspace %q: %w", w.ID, err)
	}
	c := *w
	c.Secret = sealed
	return v.ws.WorkspacePut(ctx, &c)
}

// Open implements Workspaces: it reads workspace id, refuses it (as
// store.ErrNotFound) unless owner owns it, unseals its token and makes its
// Source. A token sealed under a key the keyring lacks fails naming the
// key id; the token itself never appears in an error.
func (v *Vault) Open(ctx context.Context, owner, id string) (Source, error) {
	w, err := v.ws.WorkspaceGet(ctx, id)
	if err != nil {
		return nil, err
	}
	if w.Owner != owner {
		return nil, fmt.Errorf("workspace %q: %w", id, store.ErrNotFound)
	}
	token, err := v.kr.Open(w.Secret, []byte(w.ID))
	if err != nil {
		return nil, fmt.Errorf("unseal the token of workspace %q: %w", id, err)
	}
	return v.open(w, keyring.Secret(token))
}

// Reseal moves every workspace's token to the keyring's primary key (the
// re-encrypt step of a key rotation) and returns how many it moved. Once
// it has run, the old key can leave the configuration.
func (v *Vault) Reseal(ctx context.Context) (int, error) {
	moved, cursor := 0, ""
	for {
		page, err := v.ws.WorkspaceList(ctx, &store.WorkspaceListParams{Cursor: cursor, Limit: store.ListLimitMax})
		if err != nil {
			return moved, err
		}
		for _, w := range page.Workspaces {
			out, changed, err := v.kr.Reseal(w.Secret, []byte(w.ID))
			if err != nil {
				return moved, fmt.Errorf("reseal the token of workspace %q: %w", w.ID, err)
			}
			if !changed {
				continue
			}
			w.Secret = out
			if _, err := v.ws.WorkspacePut(ctx, w); err != nil {
				return moved, err
			}
			moved++
		}
		if page.Next == "" {
			return moved, nil
		}
		cursor = page.Next
	}
}

// Get returns workspace id (its Secret sealed).
func (v *Vault) Get(ctx context.Context, id string) (*store.Workspace, error) {
	return v.ws.WorkspaceGet(ctx, id)
}

// List returns a page of workspaces (their Secrets sealed).
func (v *Vault) List(ctx context.Context, params *store.WorkspaceListParams) (*store.WorkspacePage, error) {
	return v.ws.WorkspaceList(ctx, params)
}

// Delete removes workspace id and its token; its messages and cursors stay.
func (v *Vault) Delete(ctx context.Context, id string) error {
	return v.ws.WorkspaceDelete(ctx, id)
}

// KeyID returns the id of the key w's token is sealed under.
func (v *Vault) KeyID(w *store.Workspace) string {
	id, _ := v.kr.KeyID(w.Secret)
	return id
}
