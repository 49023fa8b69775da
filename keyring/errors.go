package keyring

import (
	"errors"
	"strconv"
)

// Sentinel errors returned by this package; match them with errors.Is.
// Their text never holds a secret, a plaintext or a sealed payload.
var (
	// ErrUnknownKey: the value was sealed under a key the Keyring does not
	// hold. The error is an *UnknownKeyError naming the key id.
	ErrUnknownKey = errors.New("keyring: unknown key")
	// ErrCorrupt: the value is in a known format but is malformed, was
	// altered, or was sealed with other additional data.
	ErrCorrupt = errors.New("keyring: corrupt sealed value")
	// ErrFormat: the value is not in a format this package reads: it is
	// empty, has no version prefix (a plaintext stored before encryption
	// was turned on, say), or has a version this build does not know.
	ErrFormat = errors.New("keyring: unknown format")
	// ErrInvalidKey: a key, a set of keys or a key file breaks a rule. The
	// error is an *InvalidKeyError naming the field and the rule.
	ErrInvalidKey = errors.New("keyring: invalid key")
)

// UnknownKeyError reports a value sealed under a key the Keyring does not
// hold. It matches ErrUnknownKey.
type UnknownKeyError struct {
	// ID is the key id named by the sealed value.
	ID string
}

// Error implements error.
func (e *UnknownKeyError) Error() string {
	return "keyring: key " + strconv.Quote(e.ID) + " is not configured"
}

// Is reports whether target is ErrUnknownKey.
func (e *UnknownKeyError) Is(target error) bool { return target == ErrUnknownKey }

// InvalidKeyError reports a key configuration that breaks a rule. It
// matches ErrInvalidKey. Neither field ever holds a secret.
type InvalidKeyError struct {
	// Field locates the input, as in `keys[1].id` or `key "k1": secret`.
	Field string
	// Rule says what the field must be, as in "must be 32 bytes, got 16".
	Rule string
}

// Error implements error.
func (e *InvalidKeyError) Error() string {
	return "keyring: " + e.Field + ": " + e.Rule
}

// Is reports whether target is ErrInvalidKey.
func (e *InvalidKeyError) Is(target error) bool { return target == ErrInvalidKey }

func invalid(field, rule string) error { return &InvalidKeyError{Field: field, Rule: rule} }
