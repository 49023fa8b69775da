// Package keyring encrypts small secrets at rest (chat workspace bot tokens,
// API keys) with AES-256-GCM under keys that rotate.
//
// Import it where a secret is written to or read from the database. A
// Keyring holds the configured keys; the first is the primary, which seals
// every new value. Each sealed value names the key that sealed it, so after
// a new key is put first, values sealed under the older keys still open, and
// Keyring.Reseal moves them to the primary one by one; once none is left
// under an old key, that key can be removed from the configuration.
//
// # Sealed format
//
// A sealed value is ASCII text:
//
//	hk1:<key id>:<base64url, no padding, of nonce || ciphertext || tag>
//
// where "hk1" is the format version, the key id is 1 to 32 characters from
// A-Z a-z 0-9 . _ -, the nonce is 12 random bytes chosen afresh for every
// seal, and the tag is GCM's 16 bytes. The additional data authenticated by
// GCM is the header "hk1:<key id>:" followed by the caller's additional
// data, so neither the version nor the key id can be altered without the
// value failing to open.
//
// Text rather than raw bytes so that a sealed value fits a TEXT column in
// PostgreSQL and SQLite, or a JSON document, with no escaping. The alphabet of base64url leaves ':' free as the separator, so
// parsing is unambiguous. The version comes first so a later format can be
// read beside this one; the key id is in clear so a rotation can find the
// rows still sealed under an old key (WHERE token LIKE 'hk1:k1:%', or
// Keyring.KeyID) without decrypting them. A value of n plaintext bytes seals
// to 4+len(id)+1+ceil((n+28)*4/3) bytes.
//
// Nonces are random, so a key should seal fewer than 2^32 values; a key that
// seals bot tokens never comes near that.
//
// # Additional data
//
// Callers pass the identity of the record that holds the value (for example
// the workspace id) as additional data to both Seal and Open. A value copied
// into another record then fails to open with ErrCorrupt.
//
// # Keeping secrets out of logs
//
// Key prints only its id. Secret, a string type for plaintext held in
// memory, prints, marshals and logs as "[redacted]"; Secret.Reveal returns
// the value. Neither can stop fmt from printing an unexported struct field
// by reflection, so keep them in exported fields or in variables.
package keyring
