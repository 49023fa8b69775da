package keyring

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
)

// SecretSize is the length of a key's secret in bytes (AES-256).
const SecretSize = 32

// MaxIDLen is the longest key id.
const MaxIDLen = 32

// Key is one AES-256 key and the id that sealed values carry to name it.
//
// Key prints only its id: String, GoString, Format (every fmt verb),
// MarshalJSON and LogValue leave the secret out. Write a key to
// configuration with Encoded.
type Key struct {
	// ID names the key in sealed values: 1 to 32 characters from
	// A-Z a-z 0-9 . _ -, unique within a Keyring.
	ID string
	// Secret is the AES-256 key, exactly 32 bytes.
	Secret []byte
}

// ParseKey returns the key with the given id and a secret written in
// standard or URL base64, padded or not, that decodes to 32 bytes.
// Surrounding white space is ignored. Errors match ErrInvalidKey and never
// hold the value.
func ParseKey(id, b64 string) (Key, error) {
	return parseKey("key "+strconv.Quote(id)+": secret", id, b64)
}

// parseKey is ParseKey with the field its errors name for the secret.
func parseKey(field, id, b64 string) (Key, error) {
	if !validID(id) {
		return Key{}, invalid("key id", idRule)
	}
	b64 = strings.TrimSpace(b64)
	if b64 == "" {
		return Key{}, invalid(field, "must not be empty")
	}
	enc := base64.StdEncoding
	if strings.ContainsAny(b64, "-_") {
		enc = base64.URLEncoding
	}
	if !strings.HasSuffix(b64, "=") {
		enc = enc.WithPadding(base64.NoPadding)
	}
	// Strict rejects non-zero trailing bits, so one secret has one text.
	secret, err := enc.Strict().DecodeString(b64)
	if err != nil {
		// err names a byte offset only; it is left out all the same.
		return Key{}, invalid(field, "must be base64 (standard or URL alphabet)")
	}
	if len(secret) != SecretSize {
		return Key{}, invalid(field, fmt.Sprintf("must decode to %d bytes, got %d", SecretSize, len(secret)))
	}
	return Key{ID: id, Secret: secret}, nil
}

// GenerateKey returns a key with the given id and a secret read from
// crypto/rand.
func GenerateKey(id string) (Key, error) {
	if !validID(id) {
		return Key{}, invalid("key id", idRule)
	}
	secret := make([]byte, SecretSize)
	if _, err := rand.Read(secret); err != nil {
		return Key{}, fmt.Errorf("keyring: generate key %q: %w", id, err)
	}
	return Key{ID: id, Secret: secret}, nil
}

// Encoded returns the secret in standard, padded base64, the form ParseKey
// reads, for writing to a configuration or key file.
func (k Key) Encoded() string { return base64.StdEncoding.EncodeToString(k.Secret) }

// String returns the key's id.
func (k Key) String() string { return k.ID }

// GoString returns a Go-like form with the secret redacted.
func (k Key) GoString() string {
	return "keyring.Key{ID:" + strconv.Quote(k.ID) + ", Secret:" + redacted + "}"
}

// Format implements fmt.Formatter: %#v prints GoString, %q the quoted id,
// and every other verb the id.
func (k Key) Format(f fmt.State, verb rune) { format(f, verb, k.String(), k.GoString()) }

// MarshalJSON returns {"ID":"<id>","Secret":"[redacted]"}. A key marshalled
// this way does not unmarshal: write keys with Encoded.
func (k Key) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct{ ID, Secret string }{k.ID, redacted})
}

// LogValue implements slog.LogValuer: the key logs as its id.
func (k Key) LogValue() slog.Value { return slog.StringValue(k.ID) }

const idRule = "must be 1 to 32 characters from A-Z a-z 0-9 . _ -"

// validID reports whether id is a well-formed key id.
func validID[T string | []byte](id T) bool {
	if len(id) == 0 || len(id) > MaxIDLen {
		return false
	}
	for i := range len(id) {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}
