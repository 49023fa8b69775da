package keyring_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/heraldhq/herald/keyring"
)

// FuzzOpen checks that Open never panics, that every failure matches one
// of the package's sentinel errors, and that whatever opens is a value
// Seal could have made.
func FuzzOpen(f *testing.F) {
	k1 := keyring.Key{ID: "k1", Secret: secret32}
	k2 := keyring.Key{ID: "k2", Secret: bytes.Repeat([]byte{0x5a}, 32)}
	r := newRing(f, k2, k1)
	for _, seed := range []struct{ sealed, ad string }{
		{string(mustSeal(f, newRing(f, k1), "xoxb-token", "w1")), "w1"},
		{string(mustSeal(f, r, "", "")), ""},
		{"", ""},
		{"xoxb-plain", ""},
		{"hk1:", ""},
		{"hk1:k1:", ""},
		{"hk1:k1:AAAA", "w"},
		{"hk2:k1:AAAA", ""},
		{"hk1:k9:" + string(bytes.Repeat([]byte("A"), 40)), ""},
		{"hk1:k1:===", ""},
	} {
		f.Add([]byte(seed.sealed), []byte(seed.ad))
	}
	f.Fuzz(func(t *testing.T, sealed, ad []byte) {
		in := bytes.Clone(sealed)
		plaintext, err := r.Open(sealed, ad)
		if !bytes.Equal(in, sealed) {
			t.Fatal("Open changed its input")
		}
		if err != nil {
			if plaintext != nil {
				t.Fatalf("Open returned %q with error %v", plaintext, err)
			}
			if !errors.Is(err, keyring.ErrCorrupt) && !errors.Is(err, keyring.ErrFormat) && !errors.Is(err, keyring.ErrUnknownKey) {
				t.Fatalf("error %v matches no sentinel", err)
			}
			assertNoSecret(t, "error", err.Error(), k1.Secret)
			if _, _, rerr := r.Reseal(sealed, ad); rerr == nil {
				t.Fatalf("Reseal succeeded where Open failed with %v", err)
			}
			return
		}
		if !bytes.HasPrefix(sealed, []byte("hk1:k1:")) && !bytes.HasPrefix(sealed, []byte("hk1:k2:")) {
			t.Fatalf("opened a value with header %.8q", sealed)
		}
		out, _, err := r.Reseal(sealed, ad)
		if err != nil {
			t.Fatalf("Reseal of a value that opens: %v", err)
		}
		back, err := r.Open(out, ad)
		if err != nil || !bytes.Equal(back, plaintext) {
			t.Fatalf("Open(Reseal) = %q, %v; want %q", back, err, plaintext)
		}
	})
}
