package auth

import (
	"errors"
	"net/http"

	"github.com/heraldhq/herald/scheduler"
)

// Authenticator finds who sent a request. It has the shape of the api
// package's Authenticator, so that every authenticator of this package, and
// Any, can be given to the API.
type Authenticator interface {
	// Authenticate returns the principal that sent r, or an error that
	// matches ErrNoCredentials, ErrInvalidToken or ErrUnavailable.
	Authenticate(r *http.Request) (scheduler.Principal, error)
}

// AuthenticatorFunc adapts a function to Authenticator.
type AuthenticatorFunc func(r *http.Request) (scheduler.Principal, error)

// Authenticate calls f(r).
func (f AuthenticatorFunc) Authenticate(r *http.Request) (scheduler.Principal, error) { return f(r) }

var _ Authenticator = AuthenticatorFunc(nil)

// Any returns an Authenticator that tries auths in order and returns the
// first principal one of them finds. When all of them fail it returns the
// most telling of their errors: one matching ErrUnavailable before one
// matching ErrInvalidToken before one matching ErrNoCredentials (an error
// matching none of them ranks with ErrInvalidToken), the earliest among
// equals. With no authenticator it refuses every request with
// ErrNoCredentials. It panics if an authenticator is nil.
//
// A server that accepts both static tokens and JWTs uses
// Any(tokens, jwt).
func Any(auths ...Authenticator) Authenticator {
	for _, a := range auths {
		if a == nil {
			panic("auth: Any: nil Authenticator")
		}
	}
	list := append([]Authenticator(nil), auths...)
	return AuthenticatorFunc(func(r *http.Request) (scheduler.Principal, error) {
		best := noCredentials("no authenticator accepted the request")
		bestRank := -1
		for _, a := range list {
			p, err := a.Authenticate(r)
			if err == nil {
				return p, nil
			}
			if rank := errRank(err); rank > bestRank {
				best, bestRank = err, rank
			}
		}
		return scheduler.Principal{}, best
	})
}

// errRank orders errors for Any: the higher, the more telling.
func errRank(err error) int {
	switch {
	case errors.Is(err, ErrUnavailable):
		return 3
	case errors.Is(err, ErrNoCredentials):
		return 1
	default: // ErrInvalidToken, or a custom authenticator's own error
		return 2
	}
}
