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

// tokenCreateSQL inserts a token unless its name is taken; it returns the
// name of a token it inserted.
const tokenCreateSQL = `INSERT INTO herald_tokens (name, subject, admin, hash, created_at) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (name) DO NOTHING RETURNING name`

// tokenListPG lists the tokens on PostgreSQL, by name as bytes (the "C"
// collation) whatever the database's collation, as SQLite and Go order
// strings.
const tokenListPG = `SELECT * FROM herald_tokens ORDER BY name COLLATE "C"`

// tokenListSQLite lists the tokens on SQLite, by name as bytes (its
// default collation).
const tokenListSQLite = `SELECT * FROM herald_tokens ORDER BY name`

// tokenDeleteSQL deletes the token of a name.
const tokenDeleteSQL = `DELETE FROM herald_tokens WHERE name = ?`

// TokenCreate implements store.TokenStore. A name already taken is
// store.ErrConflict, found by the insert itself (ON CONFLICT), so that
// two concurrent creates of one name cannot both succeed.
func (s *Store) TokenCreate(ctx context.Context, t *store.Token) (*store.Token, error) {
	c, err := storekit.PrepareToken(t, s.clock())
	if err != nil {
		return nil, fmt.Errorf("create token: %w", err)
	}
	var names []string
	err = s.write(ctx, func() error {
		return s.db.NewRaw(tokenCreateSQL, c.Name, c.Subject, c.Admin, c.Hash, c.CreatedAt).Scan(ctx, &names)
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
	q := tokenListPG
	if !s.pg() {
		q = tokenListSQLite
	}
	var rows []tokenRow
	if err := s.db.NewRaw(q).Scan(ctx, &rows); err != nil {
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
	if err := s.deleteOne(ctx, tokenDeleteSQL, name); err != nil {
		return fmt.Errorf("delete token %q: %w", name, err)
	}
	return nil
}

// deleteOne runs q, which deletes at most one row keyed by key; no row is
// store.ErrNotFound.
func (s *Store) deleteOne(ctx context.Context, q, key string) error {
	var n int64
	err := s.write(ctx, func() error {
		res, err := s.db.NewRaw(q, key).Exec(ctx)
		if err == nil {
			n, err = res.RowsAffected()
		}
		return err
	})
	if err == nil && n == 0 {
		err = store.ErrNotFound
	}
	return err
}
