package keyring

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
)

// version is the prefix of the sealed format this package writes.
const version = "hk1"

// payloadEncoding encodes nonce || ciphertext || tag. Strict rejects
// non-zero trailing bits, so every payload has exactly one text form.
var payloadEncoding = base64.RawURLEncoding.Strict()

// Keyring seals and opens values under a set of keys, the first of which
// (the primary) seals every new value. It is safe for concurrent use, and it
// prints as its key ids only. Make one with New; the zero Keyring is not
// usable.
type Keyring struct {
	ids   []string // in configured order; ids[0] is the primary
	aeads map[string]cipher.AEAD
}

// New returns a Keyring holding keys; keys[0] is the primary. It needs at
// least one key, ids that are well formed and unique, and 32-byte secrets.
// Errors match ErrInvalidKey and name the field, as in
// `keys[1].id: duplicate "k1"`. The Keyring keeps no reference to the
// callers' secret slices.
func New(keys ...Key) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, invalid("keys", "at least one key is required")
	}
	r := &Keyring{ids: make([]string, 0, len(keys)), aeads: make(map[string]cipher.AEAD, len(keys))}
	for i, k := range keys {
		field := "keys[" + strconv.Itoa(i) + "]"
		if !validID(k.ID) {
			return nil, invalid(field+".id", idRule)
		}
		if _, dup := r.aeads[k.ID]; dup {
			return nil, invalid(field+".id", "duplicate "+strconv.Quote(k.ID))
		}
		if len(k.Secret) != SecretSize {
			return nil, invalid(field+".secret", fmt.Sprintf("must be %d bytes, got %d", SecretSize, len(k.Secret)))
		}
		block, err := aes.NewCipher(k.Secret) // copies the key schedule
		if err != nil {
			return nil, fmt.Errorf("keyring: %s: %w", field, err)
		}
		// The AEAD draws a fresh 96-bit nonce from crypto/rand for every
		// Seal and puts it in front of the ciphertext.
		aead, err := cipher.NewGCMWithRandomNonce(block)
		if err != nil {
			return nil, fmt.Errorf("keyring: %s: %w", field, err)
		}
		r.ids = append(r.ids, k.ID)
		r.aeads[k.ID] = aead
	}
	return r, nil
}

// PrimaryID returns the id of the key that seals new values.
func (r *Keyring) PrimaryID() string { return r.ids[0] }

// Seal encrypts plaintext under the primary key, binding additionalData
// (which is not stored: Open must be given the same bytes), and returns the
// sealed value in the format described in the package documentation.
func (r *Keyring) Seal(plaintext, additionalData []byte) ([]byte, error) {
	id := r.ids[0]
	header := version + ":" + id + ":"
	sealed := r.aeads[id].Seal(nil, nil, plaintext, aad(header, additionalData))
	out := make([]byte, len(header)+payloadEncoding.EncodedLen(len(sealed)))
	copy(out, header)
	payloadEncoding.Encode(out[len(header):], sealed)
	return out, nil
}

// Open authenticates and decrypts a value made by Seal, with the key it
// names. It returns an *UnknownKeyError (ErrUnknownKey) when the Keyring
// does not hold that key, ErrCorrupt when the value is malformed, altered or
// was sealed with other additional data, and ErrFormat when it is not a
// sealed value at all.
func (r *Keyring) Open(sealed, additionalData []byte) ([]byte, error) {
	id, payload, err := parse(sealed)
	if err != nil {
		return nil, err
	}
	aead, ok := r.aeads[id]
	if !ok {
		return nil, &UnknownKeyError{ID: id}
	}
	ct := make([]byte, payloadEncoding.DecodedLen(len(payload)))
	n, err := payloadEncoding.Decode(ct, payload)
	if err != nil {
		return nil, fmt.Errorf("%w: key %q: payload is not base64url", ErrCorrupt, id)
	}
	ct = ct[:n]
	if len(ct) < aead.Overhead() {
		return nil, fmt.Errorf("%w: key %q: payload is %d bytes, shorter than nonce and tag (%d)",
			ErrCorrupt, id, len(ct), aead.Overhead())
	}
	header := string(sealed[:len(sealed)-len(payload)])
	plaintext, err := aead.Open(nil, nil, ct, aad(header, additionalData))
	if err != nil {
		return nil, fmt.Errorf("%w: key %q: authentication failed (altered, or sealed with other additional data)",
			ErrCorrupt, id)
	}
	return plaintext, nil
}

// KeyID returns the id of the key a value names, without authenticating it
// and whether or not the Keyring holds that key: a rotation uses it to find
// the values still sealed under an old key. Errors are those of Open for a
// malformed value.
func (r *Keyring) KeyID(sealed []byte) (string, error) {
	id, _, err := parse(sealed)
	return id, err
}

// Reseal is the re-encrypt step of a key rotation. It opens sealed and, when
// a key other than the primary sealed it, seals the plaintext again under
// the primary with the same additional data and reports changed. A value
// already under the primary is authenticated and returned as it is, with
// changed false. Errors are those of Open; on error, out is nil.
func (r *Keyring) Reseal(sealed, additionalData []byte) (out []byte, changed bool, err error) {
	plaintext, err := r.Open(sealed, additionalData)
	if err != nil {
		return nil, false, err
	}
	defer clear(plaintext)
	if id, _, _ := parse(sealed); id == r.ids[0] {
		return sealed, false, nil
	}
	out, err = r.Seal(plaintext, additionalData)
	if err != nil {
		return nil, false, err
	}
	return out, true, nil
}

// String returns the key ids, primary first, as in "keyring[k2 k1]".
func (r *Keyring) String() string { return "keyring[" + strings.Join(r.ids, " ") + "]" }

// GoString returns a Go-like form naming the key ids only.
func (r *Keyring) GoString() string {
	return "&keyring.Keyring{Keys:" + fmt.Sprintf("%q", r.ids) + "}"
}

// Format implements fmt.Formatter so that no verb prints the Keyring's
// fields.
func (r *Keyring) Format(f fmt.State, verb rune) { format(f, verb, r.String(), r.GoString()) }

// aad returns the additional data GCM authenticates: the sealed value's
// header, which ends in the only ':' it may hold, then the caller's.
func aad(header string, additionalData []byte) []byte {
	b := make([]byte, 0, len(header)+len(additionalData))
	return append(append(b, header...), additionalData...)
}

// parse splits a sealed value into its key id and its base64url payload,
// checking the version and the payload's alphabet. Its errors never hold
// the input, which may be a plaintext stored before encryption.
func parse(sealed []byte) (id string, payload []byte, err error) {
	if len(sealed) == 0 {
		return "", nil, fmt.Errorf("%w: empty value", ErrFormat)
	}
	v, rest, ok := bytes.Cut(sealed, []byte{':'})
	switch {
	case ok && string(v) == version:
	case ok && isVersion(v):
		return "", nil, fmt.Errorf("%w: version %q (this build reads %s)", ErrFormat, v, version)
	default:
		return "", nil, fmt.Errorf("%w: no version prefix %q", ErrFormat, version+":")
	}
	rawID, payload, ok := bytes.Cut(rest, []byte{':'})
	if !ok {
		return "", nil, fmt.Errorf("%w: no key id", ErrCorrupt)
	}
	if !validID(rawID) {
		return "", nil, fmt.Errorf("%w: malformed key id", ErrCorrupt)
	}
	id = string(rawID)
	for _, c := range payload {
		if !isBase64URL(c) {
			return "", nil, fmt.Errorf("%w: key %q: payload is not base64url", ErrCorrupt, id)
		}
	}
	return id, payload, nil
}

// isVersion reports whether v looks like a version prefix: "hk" and 1 to 4
// digits. Only such a prefix is named in an error.
func isVersion(v []byte) bool {
	d, ok := bytes.CutPrefix(v, []byte("hk"))
	if !ok || len(d) == 0 || len(d) > 4 {
		return false
	}
	for _, c := range d {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// isBase64URL reports whether c is in the base64url alphabet. Checking it
// first keeps the decoder from skipping '\r' and '\n' and from reading '='.
func isBase64URL(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}
