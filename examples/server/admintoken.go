package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/go-kit/log"

	"github.com/heraldhq/herald/api/auth"
	"github.com/heraldhq/herald/store"
)

// The generated admin token: made on the first start of a server whose
// config file sets no auth, printed once, and kept in the store as its
// SHA-256 only.
const (
	adminTokenName    = "generated-admin"
	adminTokenSubject = "admin"
)

// ensureAdminToken makes the generated admin token when it is needed: on
// the first start of a server whose config sets no auth (none was made
// before), or when reset asks for a new one (the old one is revoked). It
// returns the new token's secret, to be shown once, or "" when none was
// made. Two servers starting together on one database make one token: the
// second finds the first's.
func ensureAdminToken(ctx context.Context, st store.Store, a authConfig, reset bool) (string, error) {
	if reset {
		if err := st.TokenDelete(ctx, adminTokenName); err != nil && !errors.Is(err, store.ErrNotFound) {
			return "", fmt.Errorf("revoke the admin token: %w", err)
		}
	} else {
		if len(a.Tokens) > 0 || a.JWT != nil {
			return "", nil
		}
		tokens, err := st.TokenList(ctx)
		if err != nil {
			return "", fmt.Errorf("read tokens: %w", err)
		}
		for _, t := range tokens {
			if t.Name == adminTokenName {
				return "", nil
			}
		}
	}
	secret, err := auth.GenerateToken()
	if err != nil {
		return "", err
	}
	h := auth.HashToken(secret)
	_, err = st.TokenCreate(ctx, &store.Token{Name: adminTokenName, Subject: adminTokenSubject, Admin: true, Hash: h[:]})
	switch {
	case errors.Is(err, store.ErrConflict):
		return "", nil // another server made it meanwhile
	case err != nil:
		return "", fmt.Errorf("keep the admin token: %w", err)
	}
	return secret, nil
}

// printAdminToken shows a generated admin token once, with a curl line
// that uses it.
func printAdminToken(w io.Writer, secret, addr string) {
	fmt.Fprintf(w, `
Herald made an admin token. It is shown this once: only its SHA-256 is kept.

    %s

Try it:

    curl -H 'Authorization: Bearer %s' http://%s/v1/schedules

Run the server with -reset-admin-token to make a new one (the old one stops working).

`, secret, secret, addr)
}

// authenticator builds the API's authenticator: the config file's tokens
// and the tokens kept in the store (by hash), and JWTs when configured.
// close releases the JWT key fetcher.
func (a authConfig) authenticator(ctx context.Context, st store.Store, logger log.Logger) (authn auth.Authenticator, close func(), err error) {
	var tokens []auth.Token
	for _, t := range a.Tokens {
		sum, ok := parseTokenHash(t.TokenSHA256)
		if t.Token != "" {
			sum, ok = auth.HashToken(t.Token), true
		}
		if !ok {
			return nil, nil, fmt.Errorf("auth.tokens: subject %q: no usable token", t.Subject)
		}
		tokens = append(tokens, auth.Token{Subject: t.Subject, Admin: t.Role == roleAdmin, Hash: sum})
	}
	stored, err := st.TokenList(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("read tokens: %w", err)
	}
	for _, t := range stored {
		var sum [32]byte
		if copy(sum[:], t.Hash) != len(sum) {
			return nil, nil, fmt.Errorf("token %q: the store holds a hash of %d bytes", t.Name, len(t.Hash))
		}
		tokens = append(tokens, auth.Token{Subject: t.Subject, Admin: t.Admin, Hash: sum})
	}
	var auths []auth.Authenticator
	if len(tokens) > 0 {
		t, err := auth.NewTokens(tokens)
		if err != nil {
			return nil, nil, err
		}
		auths = append(auths, t)
	}
	close = func() {}
	if j := a.JWT; j != nil {
		cfg := auth.JWTConfig{JWKSURL: j.JWKSURL, Issuer: j.Issuer, Audience: j.Audience,
			SubjectClaim: j.SubjectClaim, RoleClaim: j.RoleClaim, Leeway: j.Leeway, Logger: logger}
		if j.Secret != "" {
			cfg.Secret = []byte(j.Secret)
		}
		jwt, err := auth.NewJWT(ctx, cfg)
		var ce *auth.ConfigError
		switch {
		case errors.As(err, &ce):
			return nil, nil, fmt.Errorf("auth.%s: %s", ce.Field, ce.Rule)
		case err != nil:
			return nil, nil, fmt.Errorf("auth.jwt: %w", err)
		}
		auths = append(auths, jwt)
		close = func() { jwt.Close() }
	}
	if len(auths) == 0 {
		return nil, nil, errors.New("auth: no tokens and no jwt: nobody could call the API")
	}
	return auth.Any(auths...), close, nil
}
