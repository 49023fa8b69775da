package keyring_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/heraldhq/herald/keyring"
)

// newRing returns a Keyring of keys with the given ids, in order.
func newRing(t testing.TB, keys ...keyring.Key) *keyring.Keyring {
	t.Helper()
	r, err := keyring.New(keys...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return r
}

func genKey(t testing.TB, id string) keyring.Key {
	t.Helper()
	k, err := keyring.GenerateKey(id)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustSeal(t testing.TB, r *keyring.Keyring, plaintext, ad string) []byte {
	t.Helper()
	sealed, err := r.Seal([]byte(plaintext), []byte(ad))
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	return sealed
}

func TestRoundTrip(t *testing.T) {
	r := newRing(t, genKey(t, "k1"))
	tests := []struct {
		name, plaintext, ad string
	}{
		{"bot token", "xoxb-1234-5678-abcdef", "workspace:T0123"},
		{"empty plaintext", "", "workspace:T0123"},
		{"no additional data", "secret", ""},
		{"binary", "\x00\xff\n:hk1:", "\x00"},
		{"long", strings.Repeat("x", 64<<10), "w"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sealed := mustSeal(t, r, tt.plaintext, tt.ad)
			if !bytes.HasPrefix(sealed, []byte("hk1:k1:")) {
				t.Fatalf("sealed value %.20q does not start with hk1:k1:", sealed)
			}
			payload := sealed[len("hk1:k1:"):]
			if want := base64.RawURLEncoding.EncodedLen(len(tt.plaintext) + 28); len(payload) != want {
				t.Errorf("payload is %d characters, want %d", len(payload), want)
			}
			for _, c := range sealed {
				if c < 0x21 || c > 0x7e {
					t.Fatalf("sealed value holds byte %#x, want printable ASCII", c)
				}
			}
			if tt.plaintext != "" && bytes.Contains(sealed, []byte(tt.plaintext)) {
				t.Fatal("sealed value holds the plaintext")
			}
			got, err := r.Open(sealed, []byte(tt.ad))
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if string(got) != tt.plaintext {
				t.Fatalf("Open = %.20q, want %.20q", got, tt.plaintext)
			}
			if id, err := r.KeyID(sealed); err != nil || id != "k1" {
				t.Fatalf("KeyID = %q, %v; want k1", id, err)
			}
		})
	}
}

func TestOpenAdditionalDataMismatch(t *testing.T) {
	r := newRing(t, genKey(t, "k1"))
	sealed := mustSeal(t, r, "xoxb-token", "workspace:T1")
	for _, ad := range []string{"workspace:T2", "", "workspace:T1 ", "Workspace:T1"} {
		got, err := r.Open(sealed, []byte(ad))
		if !errors.Is(err, keyring.ErrCorrupt) || got != nil {
			t.Fatalf("Open with additional data %q = %q, %v; want ErrCorrupt", ad, got, err)
		}
		if !strings.Contains(err.Error(), `key "k1"`) || strings.Contains(err.Error(), "xoxb") {
			t.Errorf("error %q must name the key and not the plaintext", err)
		}
	}
}

func TestOpenTamper(t *testing.T) {
	r := newRing(t, genKey(t, "k1"))
	sealed := mustSeal(t, r, "xoxb-token", "workspace:T1")
	tampered := 0
	for i := range sealed {
		for _, b := range []byte{sealed[i] ^ 0x01, sealed[i] ^ 0x20, sealed[i] ^ 0x80, 'A', '_', ':', 0} {
			if b == sealed[i] {
				continue
			}
			c := bytes.Clone(sealed)
			c[i] = b
			got, err := r.Open(c, []byte("workspace:T1"))
			if err == nil || got != nil {
				t.Fatalf("Open with byte %d set to %#x = %q, %v; want an error", i, b, got, err)
			}
			if !errors.Is(err, keyring.ErrCorrupt) && !errors.Is(err, keyring.ErrFormat) && !errors.Is(err, keyring.ErrUnknownKey) {
				t.Fatalf("Open with byte %d set to %#x: %v matches no sentinel", i, b, err)
			}
			tampered++
		}
	}
	// Truncations and extensions too.
	for n := range len(sealed) {
		if _, err := r.Open(sealed[:n], []byte("workspace:T1")); err == nil {
			t.Fatalf("Open of the first %d bytes succeeded", n)
		}
	}
	for _, tail := range []string{"A", "AA", "=", "\n", ":"} {
		if _, err := r.Open(append(bytes.Clone(sealed), tail...), []byte("workspace:T1")); err == nil {
			t.Fatalf("Open with %q appended succeeded", tail)
		}
	}
	if tampered < 6*len(sealed) {
		t.Fatalf("only %d tampered values tried", tampered)
	}
}

func TestOpenHeaderIsAuthenticated(t *testing.T) {
	// The same secret under two ids: rewriting the id in a sealed value
	// must not make it open under the other id.
	a := newRing(t, keyring.Key{ID: "a", Secret: secret32})
	b := newRing(t, keyring.Key{ID: "b", Secret: secret32})
	sealed := mustSeal(t, a, "xoxb-token", "w")
	moved := append([]byte("hk1:b:"), sealed[len("hk1:a:"):]...)
	if _, err := b.Open(moved, []byte("w")); !errors.Is(err, keyring.ErrCorrupt) {
		t.Fatalf("Open of a value moved to another key id = %v, want ErrCorrupt", err)
	}
}

func TestRotation(t *testing.T) {
	k1, k2 := genKey(t, "k1"), genKey(t, "k2")
	old := newRing(t, k1)
	sealedK1 := mustSeal(t, old, "xoxb-old", "w1")

	rotated := newRing(t, k2, k1)
	if got := rotated.PrimaryID(); got != "k2" {
		t.Fatalf("PrimaryID = %q, want k2", got)
	}
	t.Run("old value opens", func(t *testing.T) {
		got, err := rotated.Open(sealedK1, []byte("w1"))
		if err != nil || string(got) != "xoxb-old" {
			t.Fatalf("Open = %q, %v; want xoxb-old", got, err)
		}
	})
	t.Run("new seals use the primary", func(t *testing.T) {
		if id, err := rotated.KeyID(mustSeal(t, rotated, "xoxb-new", "w2")); err != nil || id != "k2" {
			t.Fatalf("KeyID = %q, %v; want k2", id, err)
		}
	})
	t.Run("reseal moves to the primary", func(t *testing.T) {
		out, changed, err := rotated.Reseal(sealedK1, []byte("w1"))
		if err != nil || !changed {
			t.Fatalf("Reseal = changed %v, %v; want changed", changed, err)
		}
		if id, _ := rotated.KeyID(out); id != "k2" {
			t.Fatalf("resealed value is under %q, want k2", id)
		}
		got, err := newRing(t, k2).Open(out, []byte("w1"))
		if err != nil || string(got) != "xoxb-old" {
			t.Fatalf("Open of the resealed value with k2 alone = %q, %v", got, err)
		}
		if _, err := rotated.Open(out, []byte("w2")); !errors.Is(err, keyring.ErrCorrupt) {
			t.Fatalf("resealed value lost its additional data: %v", err)
		}
		again, changed, err := rotated.Reseal(out, []byte("w1"))
		if err != nil || changed || !bytes.Equal(again, out) {
			t.Fatalf("Reseal of a k2 value = changed %v, same %v, %v; want unchanged", changed, bytes.Equal(again, out), err)
		}
	})
	t.Run("reseal authenticates", func(t *testing.T) {
		sealedK2 := mustSeal(t, rotated, "xoxb-new", "w2")
		for _, s := range [][]byte{sealedK1, sealedK2} {
			out, changed, err := rotated.Reseal(s, []byte("other"))
			if !errors.Is(err, keyring.ErrCorrupt) || changed || out != nil {
				t.Fatalf("Reseal with wrong additional data = %q, %v, %v; want ErrCorrupt", out, changed, err)
			}
		}
	})
	t.Run("old key removed", func(t *testing.T) {
		_, err := newRing(t, k2).Open(sealedK1, []byte("w1"))
		var uk *keyring.UnknownKeyError
		if !errors.As(err, &uk) || uk.ID != "k1" || !errors.Is(err, keyring.ErrUnknownKey) {
			t.Fatalf("Open = %v, want *UnknownKeyError{k1}", err)
		}
		if _, _, err := newRing(t, k2).Reseal(sealedK1, []byte("w1")); !errors.Is(err, keyring.ErrUnknownKey) {
			t.Fatalf("Reseal = %v, want ErrUnknownKey", err)
		}
	})
}

func TestOpenUnknownKey(t *testing.T) {
	r := newRing(t, genKey(t, "k1"))
	sealed := mustSeal(t, newRing(t, genKey(t, "k0")), "xoxb-token", "w")
	got, err := r.Open(sealed, []byte("w"))
	if got != nil || !errors.Is(err, keyring.ErrUnknownKey) {
		t.Fatalf("Open = %q, %v; want ErrUnknownKey", got, err)
	}
	if want := `keyring: key "k0" is not configured`; err.Error() != want {
		t.Fatalf("error = %q, want %q", err, want)
	}
	// A wrong key under the right id fails authentication.
	other := newRing(t, genKey(t, "k0"))
	if _, err := other.Open(sealed, []byte("w")); !errors.Is(err, keyring.ErrCorrupt) {
		t.Fatalf("Open with another secret under the same id = %v, want ErrCorrupt", err)
	}
}

func TestOpenMalformed(t *testing.T) {
	r := newRing(t, keyring.Key{ID: "k1", Secret: secret32})
	valid := mustSeal(t, r, "xoxb-token", "")
	payload := string(valid[len("hk1:k1:"):])
	tests := []struct {
		name    string
		in      string
		want    error
		wantMsg string
	}{
		{"nil", "", keyring.ErrFormat, "keyring: unknown format: empty value"},
		{"plaintext token", "xoxb-1234-secret", keyring.ErrFormat, `keyring: unknown format: no version prefix "hk1:"`},
		{"plaintext with colon", "user:hunter2", keyring.ErrFormat, `no version prefix "hk1:"`},
		{"version only", "hk1", keyring.ErrFormat, `no version prefix`},
		{"future version", "hk2:k1:" + payload, keyring.ErrFormat, `keyring: unknown format: version "hk2" (this build reads hk1)`},
		{"uppercase version", "HK1:k1:" + payload, keyring.ErrFormat, `no version prefix`},
		{"no key id separator", "hk1:k1", keyring.ErrCorrupt, "keyring: corrupt sealed value: no key id"},
		{"empty key id", "hk1::" + payload, keyring.ErrCorrupt, "malformed key id"},
		{"bad key id", "hk1:k 1:" + payload, keyring.ErrCorrupt, "malformed key id"},
		{"long key id", "hk1:" + strings.Repeat("k", 33) + ":" + payload, keyring.ErrCorrupt, "malformed key id"},
		{"unknown key", "hk1:k9:" + payload, keyring.ErrUnknownKey, `keyring: key "k9" is not configured`},
		{"empty payload", "hk1:k1:", keyring.ErrCorrupt, `key "k1": payload is 0 bytes, shorter than nonce and tag (28)`},
		{"short payload", "hk1:k1:" + payload[:36], keyring.ErrCorrupt, `payload is 27 bytes`},
		{"std alphabet", "hk1:k1:" + strings.NewReplacer("-", "+", "_", "/").Replace(payload) + "+/", keyring.ErrCorrupt, "payload is not base64url"},
		{"padding", "hk1:k1:" + payload + "==", keyring.ErrCorrupt, "payload is not base64url"},
		{"newline", "hk1:k1:" + payload[:8] + "\n" + payload[8:], keyring.ErrCorrupt, "payload is not base64url"},
		{"length 4n+1", "hk1:k1:" + payload[:49], keyring.ErrCorrupt, "payload is not base64url"},
		{"extra colon", "hk1:k1:" + payload[:8] + ":" + payload[8:], keyring.ErrCorrupt, "payload is not base64url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := r.Open([]byte(tt.in), nil)
			if got != nil || !errors.Is(err, tt.want) {
				t.Fatalf("Open = %q, %v; want %v", got, err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not contain %q", err, tt.wantMsg)
			}
			if len(tt.in) > 8 && strings.Contains(err.Error(), tt.in) {
				t.Errorf("error %q echoes the input", err)
			}
			if _, _, rerr := r.Reseal([]byte(tt.in), nil); !errors.Is(rerr, tt.want) {
				t.Errorf("Reseal error = %v, want %v", rerr, tt.want)
			}
		})
	}
	if _, err := r.KeyID([]byte("xoxb-1234")); !errors.Is(err, keyring.ErrFormat) {
		t.Errorf("KeyID of a plaintext = %v, want ErrFormat", err)
	}
	if id, err := r.KeyID([]byte("hk1:k9:" + payload)); err != nil || id != "k9" {
		t.Errorf("KeyID of a value under a key not in the ring = %q, %v; want k9", id, err)
	}
}

func TestNonceUnique(t *testing.T) {
	r := newRing(t, genKey(t, "k1"))
	const n = 10_000
	seen := make(map[string]bool, n)
	for range n {
		sealed := mustSeal(t, r, "same plaintext", "same ad")
		raw, err := base64.RawURLEncoding.DecodeString(string(sealed[len("hk1:k1:"):]))
		if err != nil {
			t.Fatal(err)
		}
		nonce := string(raw[:12])
		if seen[nonce] {
			t.Fatalf("nonce %x repeated", nonce)
		}
		seen[nonce] = true
	}
}

func TestConcurrentUse(t *testing.T) {
	k1, k2 := genKey(t, "k1"), genKey(t, "k2")
	r := newRing(t, k2, k1)
	sealedK1 := mustSeal(t, newRing(t, k1), "old", "w")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				want := fmt.Sprintf("token-%d-%d", g, i)
				got, err := r.Open(mustSeal(t, r, want, "w"), []byte("w"))
				if err != nil || string(got) != want {
					errs <- fmt.Errorf("round trip %s = %q, %v", want, got, err)
					return
				}
				if _, changed, err := r.Reseal(sealedK1, []byte("w")); err != nil || !changed {
					errs <- fmt.Errorf("Reseal = %v, %v", changed, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
