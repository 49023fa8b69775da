package store

import (
	"context"
	"time"
)

// Token is an API bearer token, kept as the SHA-256 hash of its secret:
// the secret itself is shown once, when it is made, and never stored.
type Token struct {
	// Name identifies the token; unique. Required, at most 200 bytes.
	Name string
	// Subject is the principal the token authenticates. Required, at most
	// 200 bytes.
	Subject string
	// Admin marks a token of the admin role; else it is of the user role.
	Admin bool
	// Hash is the SHA-256 of the token's secret: 32 bytes. Required.
	Hash []byte
	// CreatedAt is set by the store.
	CreatedAt time.Time
}

// TokenStore keeps API bearer tokens by hash: the tokens that a server
// makes at run time (its first admin token), beside those of its
// configuration.
type TokenStore interface {
	// TokenCreate validates and inserts t and returns the stored token. A
	// token of the same name is ErrConflict, and nothing is written.
	TokenCreate(ctx context.Context, t *Token) (*Token, error)
	// TokenList returns every token, by name.
	TokenList(ctx context.Context) ([]*Token, error)
	// TokenDelete removes the token of that name, or returns ErrNotFound.
	TokenDelete(ctx context.Context, name string) error
}
