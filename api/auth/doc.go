// Package auth holds the authenticators that Herald's REST API ships with:
// static bearer tokens (Tokens), JSON Web Tokens signed with a shared
// secret or by keys from a JWKS (JWT), and Any, which accepts whatever the
// first of several authenticators accepts.
//
// Import it when you mount Herald's REST API and want one of these ways to
// tell who sent a request; each type here satisfies the api package's
// Authenticator, and a custom one can take their place.
//
// Every refusal matches one of three sentinel errors, which the API turns
// into its answer: ErrNoCredentials (401 with a Bearer challenge),
// ErrInvalidToken (401 with error="invalid_token") and ErrUnavailable (503).
// A refusal is an *Error whose Reason may be shown to the client: no error of
// this package holds a token, a secret or a key.
package auth
