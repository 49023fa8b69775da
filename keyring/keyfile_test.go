package keyring_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/heraldhq/herald/keyring"
)

func skipOnWindows(t *testing.T) {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("file modes are not checked on Windows")
	}
}

func TestLoadOrCreateKeyFile(t *testing.T) {
	skipOnWindows(t)
	path := filepath.Join(t.TempDir(), "herald.key")

	key, created, err := keyring.LoadOrCreateKeyFile(path)
	if err != nil || !created {
		t.Fatalf("first call = created %v, %v; want created", created, err)
	}
	if !strings.HasPrefix(key.ID, "generated-") || len(key.Secret) != keyring.SecretSize {
		t.Fatalf("generated key %q with %d bytes", key.ID, len(key.Secret))
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Fatalf("key file mode = %04o, want 0600", perm)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := key.ID + ":" + key.Encoded() + "\n"; string(b) != want {
		t.Fatalf("key file holds %d bytes, not the line ID:BASE64", len(b))
	}
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil || len(entries) != 1 {
		t.Fatalf("directory holds %d entries (%v), want only the key file", len(entries), err)
	}

	again, created, err := keyring.LoadOrCreateKeyFile(path)
	if err != nil || created {
		t.Fatalf("second call = created %v, %v; want read back", created, err)
	}
	if again.ID != key.ID || !bytes.Equal(again.Secret, key.Secret) {
		t.Fatalf("second call read %q, want the key written first (%q)", again.ID, key.ID)
	}
}

func TestLoadOrCreateKeyFileReads(t *testing.T) {
	skipOnWindows(t)
	k := keyring.Key{ID: "k1", Secret: secret32}
	tests := []struct {
		name    string
		content string
		mode    os.FileMode
		wantErr string // "" for success
	}{
		{"line", "k1:" + k.Encoded() + "\n", 0o600, ""},
		{"no final newline", "k1:" + k.Encoded(), 0o600, ""},
		{"crlf", "k1:" + k.Encoded() + "\r\n", 0o600, ""},
		{"owner read only", "k1:" + k.Encoded() + "\n", 0o400, ""},
		{"group readable", "k1:" + k.Encoded() + "\n", 0o644, "mode 0644 lets group or others access it; it must be 0600 (chmod 600 "},
		{"group writable", "k1:" + k.Encoded() + "\n", 0o620, "mode 0620"},
		{"other readable", "k1:" + k.Encoded() + "\n", 0o604, "mode 0604"},
		{"empty", "", 0o600, "must hold one line ID:BASE64, found no ':'"},
		{"secret only", k.Encoded() + "\n", 0o600, "found no ':'"},
		{"two lines", "k1:" + k.Encoded() + "\nk2:" + k.Encoded() + "\n", 0o600, "found more"},
		{"blank line after", "k1:" + k.Encoded() + "\n\n", 0o600, "found more"},
		{"bad id", "k 1:" + k.Encoded() + "\n", 0o600, "key id: must be 1 to 32 characters"},
		{"bad base64", "k1:" + k.Encoded()[:20] + "!!\n", 0o600, `key "k1": secret: must be base64`},
		{"short secret", "k1:" + k.Encoded()[:24] + "\n", 0o600, `key "k1": secret: must decode to 32 bytes, got 18`},
		{"too large", strings.Repeat("k", 2000), 0o600, "is larger than 1024 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "herald.key")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tt.mode); err != nil {
				t.Fatal(err)
			}
			got, created, err := keyring.LoadOrCreateKeyFile(path)
			if created {
				t.Fatal("created = true for an existing file")
			}
			if tt.wantErr == "" {
				if err != nil || got.ID != "k1" || !bytes.Equal(got.Secret, secret32) {
					t.Fatalf("LoadOrCreateKeyFile = %q, %v; want k1", got.ID, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tt.wantErr)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.wantErr) || !strings.Contains(msg, path) {
				t.Errorf("error %q must name %s and contain %q", msg, path, tt.wantErr)
			}
			if !errors.Is(err, keyring.ErrInvalidKey) {
				t.Errorf("error %v does not match ErrInvalidKey", err)
			}
			assertNoSecret(t, "error", msg, secret32)
			// The file is left as it was.
			if b, _ := os.ReadFile(path); string(b) != tt.content {
				t.Error("the key file was changed")
			}
		})
	}
}

func TestLoadOrCreateKeyFileErrors(t *testing.T) {
	skipOnWindows(t)
	t.Run("missing directory", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "no-such-dir", "herald.key")
		if _, _, err := keyring.LoadOrCreateKeyFile(path); err == nil || !strings.Contains(err.Error(), path) {
			t.Fatalf("error = %v, want one naming %s", err, path)
		}
	})
	t.Run("directory", func(t *testing.T) {
		path := t.TempDir()
		if err := os.Chmod(path, 0o700); err != nil {
			t.Fatal(err)
		}
		_, _, err := keyring.LoadOrCreateKeyFile(path)
		if !errors.Is(err, keyring.ErrInvalidKey) || !strings.Contains(err.Error(), "is not a regular file") {
			t.Fatalf("error = %v, want not a regular file", err)
		}
	})
}

func TestLoadOrCreateKeyFileConcurrent(t *testing.T) {
	skipOnWindows(t)
	path := filepath.Join(t.TempDir(), "herald.key")
	const n = 8
	keys := make([]keyring.Key, n)
	created := make([]bool, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { keys[i], created[i], errs[i] = keyring.LoadOrCreateKeyFile(path) })
	}
	wg.Wait()
	creators := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("call %d: %v", i, errs[i])
		}
		if created[i] {
			creators++
		}
		if keys[i].ID != keys[0].ID || !bytes.Equal(keys[i].Secret, keys[0].Secret) {
			t.Fatalf("call %d got key %q, call 0 got %q", i, keys[i].ID, keys[0].ID)
		}
	}
	if creators != 1 {
		t.Fatalf("%d calls report created, want 1", creators)
	}
}
