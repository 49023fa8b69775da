package auth

import "errors"

// Sentinel errors. Every error that an Authenticate method of this package
// returns matches exactly one of them (errors.Is).
var (
	// ErrNoCredentials: the request carries no Authorization header, or
	// one of another scheme than Bearer.
	ErrNoCredentials = errors.New("auth: no credentials")
	// ErrInvalidToken: the request carries a bearer token that is not
	// valid (unknown, malformed, expired, badly signed…).
	ErrInvalidToken = errors.New("auth: invalid token")
	// ErrUnavailable: the authenticator cannot decide now, as when the JWKS
	// cannot be fetched and no cached key matches the token. Trying again
	// later may succeed.
	ErrUnavailable = errors.New("auth: unavailable")
)

// Error is a refusal to authenticate a request. It matches its Kind with
// errors.Is. Its text and Reason never hold a token, a secret or a key, so
// they may be shown to the client.
type Error struct {
	// Kind is ErrNoCredentials, ErrInvalidToken or ErrUnavailable.
	Kind error
	// Reason says briefly why, as in "token expired" or "wrong audience".
	Reason string
}

// Error implements error.
func (e *Error) Error() string { return e.Kind.Error() + ": " + e.Reason }

// Unwrap returns Kind.
func (e *Error) Unwrap() error { return e.Kind }

// noCredentials returns an *Error of kind ErrNoCredentials.
func noCredentials(reason string) error { return &Error{Kind: ErrNoCredentials, Reason: reason} }

// invalid returns an *Error of kind ErrInvalidToken.
func invalid(reason string) error { return &Error{Kind: ErrInvalidToken, Reason: reason} }

// unavailable returns an *Error of kind ErrUnavailable.
func unavailable(reason string) error { return &Error{Kind: ErrUnavailable, Reason: reason} }

// ConfigError reports a configuration field that is not valid, as returned
// by NewTokens and NewJWT.
type ConfigError struct {
	// Field names the field as a configuration file would, as in
	// "jwt.issuer" or "tokens[2].subject".
	Field string
	// Rule says what the field must be, as in "required".
	Rule string
}

// Error implements error.
func (e *ConfigError) Error() string { return "auth: " + e.Field + ": " + e.Rule }

// badConfig returns a *ConfigError for field and rule.
func badConfig(field, rule string) error { return &ConfigError{Field: field, Rule: rule} }
