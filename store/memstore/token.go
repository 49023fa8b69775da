package memstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/store/storekit"
)

// TokenCreate implements store.TokenStore.
func (s *Store) TokenCreate(ctx context.Context, t *store.Token) (*store.Token, error) {
	now, err := s.begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("create token: %w", err)
	}
	defer s.mu.Unlock()
	c, err := storekit.PrepareToken(t, now)
	if err != nil {
		return nil, fmt.Errorf("create token: %w", err)
	}
	if _, ok := s.tokens[c.Name]; ok {
		return nil, fmt.Errorf("create token %q: a token of that name exists: %w", c.Name, store.ErrConflict)
	}
	s.tokens[c.Name] = c
	return cloneToken(c), nil
}

// TokenList implements store.TokenStore.
func (s *Store) TokenList(ctx context.Context) ([]*store.Token, error) {
	if _, err := s.begin(ctx); err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	defer s.mu.Unlock()
	out := make([]*store.Token, 0, len(s.tokens))
	for _, t := range s.tokens {
		out = append(out, cloneToken(t))
	}
	slices.SortFunc(out, func(a, b *store.Token) int { return cmp.Compare(a.Name, b.Name) })
	return out, nil
}

// TokenDelete implements store.TokenStore.
func (s *Store) TokenDelete(ctx context.Context, name string) error {
	if _, err := s.begin(ctx); err != nil {
		return fmt.Errorf("delete token %q: %w", name, err)
	}
	defer s.mu.Unlock()
	if _, ok := s.tokens[name]; !ok {
		return fmt.Errorf("delete token %q: %w", name, store.ErrNotFound)
	}
	delete(s.tokens, name)
	return nil
}

func cloneToken(t *store.Token) *store.Token {
	c := *t
	c.Hash = cloneBytes(t.Hash)
	return &c
}
