package bunstore

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/store/storekit"
)

// tokenRow is a row of herald_tokens.
type tokenRow struct {
	bun.BaseModel `bun:"table:herald_tokens"`

	Name      string    `bun:"name,pk"`
	Subject   string    `bun:"subject"`
	Admin     bool      `bun:"admin"`
	Hash      []byte    `bun:"hash"`
	CreatedAt time.Time `bun:"created_at"`
}

func (r *tokenRow) token() *store.Token {
	return &store.Token{Name: r.Name, Subject: r.Subject, Admin: r.Admin, Hash: r.Hash, CreatedAt: utc(r.CreatedAt)}
}

// TokenCreate implements store.TokenStore. A name already taken is
// store.ErrConflict, found by the insert itself (ON CONFLICT), so that
// two concurrent creates of one name cannot both succeed.
func (s *Store) TokenCreate(ctx context.Context, t *store.Token) (*store.Token, error) {
	c, err := storekit.PrepareToken(t, s.stamp())
	if err != nil {
		return nil, fmt.Errorf("create token: %w", err)
	}
	var names []string
	err = s.write(ctx, func() error {
		return s.scan(ctx, s.db, &names, s.sql.TokenCreate, c.Name, c.Subject, c.Admin, c.Hash, c.CreatedAt)
	})
	if err == nil && len(names) == 0 {
		err = fmt.Errorf("%w: a token of that name exists", store.ErrConflict)
	}
	if err != nil {
		return nil, fmt.Errorf("create token %q: %w", c.Name, err)
	}
	return c, nil
}

// TokenList implements store.TokenStore.
func (s *Store) TokenList(ctx context.Context) ([]*store.Token, error) {
	if s.isClosed() {
		return nil, store.ErrClosed
	}
	var rows []tokenRow
	if err := s.scan(ctx, s.db, &rows, s.sql.TokenList); err != nil {
		return nil, fmt.Errorf("list tokens: %w", translate(err))
	}
	out := make([]*store.Token, len(rows))
	for i := range rows {
		out[i] = rows[i].token()
	}
	return out, nil
}

// TokenDelete implements store.TokenStore.
func (s *Store) TokenDelete(ctx context.Context, name string) error {
	if err := s.deleteOne(ctx, s.sql.TokenDelete, name); err != nil {
		return fmt.Errorf("delete token %q: %w", name, err)
	}
	return nil
}

// deleteOne runs q, which deletes at most one row keyed by key; no row is
// store.ErrNotFound.
func (s *Store) deleteOne(ctx context.Context, q, key string) error {
	var n int64
	err := s.write(ctx, func() error {
		var err error
		n, err = s.exec(ctx, s.db, q, key)
		return err
	})
	if err == nil && n == 0 {
		err = store.ErrNotFound
	}
	return err
}
