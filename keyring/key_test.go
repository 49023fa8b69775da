package keyring_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/heraldhq/herald/keyring"
)

// secret32 is a fixed secret for tests whose output must not vary.
var secret32 = []byte("0123456789abcdef0123456789ABCDEF")

func TestParseKey(t *testing.T) {
	// 32 bytes whose base64 uses both '+' and '/' (or '-' and '_').
	raw := bytes.Repeat([]byte{0xfb, 0xff, 0xbf}, 11)[:32]
	tests := []struct {
		name    string
		id, b64 string
		wantErr string // substring; "" for success
	}{
		{"std padded", "k1", base64.StdEncoding.EncodeToString(raw), ""},
		{"std raw", "k1", base64.RawStdEncoding.EncodeToString(raw), ""},
		{"url padded", "k1", base64.URLEncoding.EncodeToString(raw), ""},
		{"url raw", "k1", base64.RawURLEncoding.EncodeToString(raw), ""},
		{"surrounding space", "k1", " " + base64.StdEncoding.EncodeToString(raw) + "\n", ""},
		{"id charset", "a.B_c-9", base64.StdEncoding.EncodeToString(raw), ""},
		{"id 32 chars", strings.Repeat("x", 32), base64.StdEncoding.EncodeToString(raw), ""},
		{"empty secret", "k1", "  ", `keyring: key "k1": secret: must not be empty`},
		{"not base64", "k1", "not base64!!", `keyring: key "k1": secret: must be base64`},
		{"mixed alphabets", "k1", "+-" + base64.RawStdEncoding.EncodeToString(raw)[2:], `secret: must be base64`},
		{"non-canonical", "k1", base64.RawStdEncoding.EncodeToString(raw)[:42] + "B", `secret: must be base64`},
		{"16 bytes", "k1", base64.StdEncoding.EncodeToString(raw[:16]), `keyring: key "k1": secret: must decode to 32 bytes, got 16`},
		{"33 bytes", "k1", base64.StdEncoding.EncodeToString(append(raw, 0)), `must decode to 32 bytes, got 33`},
		{"empty id", "", base64.StdEncoding.EncodeToString(raw), `keyring: key id: must be 1 to 32 characters`},
		{"id 33 chars", strings.Repeat("x", 33), base64.StdEncoding.EncodeToString(raw), `key id: must be`},
		{"id with colon", "k:1", base64.StdEncoding.EncodeToString(raw), `key id: must be`},
		{"id with space", "k 1", base64.StdEncoding.EncodeToString(raw), `key id: must be`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := keyring.ParseKey(tt.id, tt.b64)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ParseKey: %v", err)
				}
				if k.ID != tt.id || !bytes.Equal(k.Secret, raw) {
					t.Fatalf("ParseKey = %q %x, want %q %x", k.ID, k.Secret, tt.id, raw)
				}
				return
			}
			if err == nil {
				t.Fatalf("ParseKey: no error, want %q", tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not contain %q", err, tt.wantErr)
			}
			if !errors.Is(err, keyring.ErrInvalidKey) {
				t.Errorf("error %v does not match ErrInvalidKey", err)
			}
			if v := strings.TrimSpace(tt.b64); v != "" && strings.Contains(err.Error(), v) {
				t.Errorf("error %q echoes the secret", err)
			}
		})
	}
}

func TestGenerateKey(t *testing.T) {
	k1, err := keyring.GenerateKey("k1")
	if err != nil {
		t.Fatal(err)
	}
	k2, err := keyring.GenerateKey("k2")
	if err != nil {
		t.Fatal(err)
	}
	if len(k1.Secret) != keyring.SecretSize || k1.ID != "k1" {
		t.Fatalf("GenerateKey = %q with %d bytes", k1.ID, len(k1.Secret))
	}
	if bytes.Equal(k1.Secret, k2.Secret) {
		t.Fatal("two generated keys share a secret")
	}
	back, err := keyring.ParseKey(k1.ID, k1.Encoded())
	if err != nil {
		t.Fatalf("ParseKey(Encoded()): %v", err)
	}
	if !bytes.Equal(back.Secret, k1.Secret) {
		t.Fatal("ParseKey(Encoded()) changed the secret")
	}
	if _, err := keyring.GenerateKey("bad id"); !errors.Is(err, keyring.ErrInvalidKey) {
		t.Fatalf("GenerateKey(bad id) = %v, want ErrInvalidKey", err)
	}
}

func TestNew(t *testing.T) {
	key := func(id string, n int) keyring.Key { return keyring.Key{ID: id, Secret: make([]byte, n)} }
	tests := []struct {
		name    string
		keys    []keyring.Key
		wantErr string
	}{
		{"one key", []keyring.Key{key("k1", 32)}, ""},
		{"three keys", []keyring.Key{key("k3", 32), key("k2", 32), key("k1", 32)}, ""},
		{"no keys", nil, "keyring: keys: at least one key is required"},
		{"duplicate", []keyring.Key{key("k1", 32), key("k1", 32)}, `keyring: keys[1].id: duplicate "k1"`},
		{"bad id", []keyring.Key{key("k1", 32), key("", 32)}, "keyring: keys[1].id: must be 1 to 32 characters"},
		{"short secret", []keyring.Key{key("k1", 16)}, "keyring: keys[0].secret: must be 32 bytes, got 16"},
		{"nil secret", []keyring.Key{{ID: "k1"}}, "keyring: keys[0].secret: must be 32 bytes, got 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := keyring.New(tt.keys...)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				if got := r.PrimaryID(); got != tt.keys[0].ID {
					t.Fatalf("PrimaryID = %q, want %q", got, tt.keys[0].ID)
				}
				return
			}
			if err == nil || err.Error() != tt.wantErr && !strings.HasPrefix(err.Error(), tt.wantErr) {
				t.Fatalf("New error = %v, want %q", err, tt.wantErr)
			}
			var ie *keyring.InvalidKeyError
			if !errors.As(err, &ie) || !errors.Is(err, keyring.ErrInvalidKey) {
				t.Fatalf("New error %v is not an *InvalidKeyError matching ErrInvalidKey", err)
			}
		})
	}
}

func TestNewCopiesSecrets(t *testing.T) {
	secret := bytes.Clone(secret32)
	r, err := keyring.New(keyring.Key{ID: "k1", Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := r.Seal([]byte("token"), nil)
	if err != nil {
		t.Fatal(err)
	}
	clear(secret)
	if _, err := r.Open(sealed, nil); err != nil {
		t.Fatalf("Open after the caller cleared its secret: %v", err)
	}
}
