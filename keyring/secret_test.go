package keyring_test

import (
	"bytes"
	"encoding"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/heraldhq/herald/keyring"
)

// printAll formats v the ways a log line, an error or a panic might.
func printAll(v any) string {
	return fmt.Sprintf("%v %+v %#v %s %q %x %X %d %10.3s %T", v, v, v, v, v, v, v, v, v, v) +
		fmt.Sprint(v) + fmt.Sprintln(v) +
		fmt.Sprintf("%v %+v %#v", []any{v}, map[string]any{"v": v}, struct{ V any }{v})
}

// assertNoSecret fails when out holds secret in any common encoding.
func assertNoSecret(t *testing.T, what, out string, secret []byte) {
	t.Helper()
	for _, form := range []string{
		string(secret),
		base64.StdEncoding.EncodeToString(secret),
		base64.RawURLEncoding.EncodeToString(secret),
		hex.EncodeToString(secret),
		strings.ToUpper(hex.EncodeToString(secret)),
		strings.Trim(fmt.Sprint(secret), "[]"), // decimal bytes, as %v prints a []byte
		fmt.Sprintf("%q", secret)[1:20],
	} {
		if strings.Contains(out, form) {
			t.Errorf("%s shows the secret as %.24q in %q", what, form, out)
		}
	}
}

func TestKeyDoesNotPrintSecret(t *testing.T) {
	k := keyring.Key{ID: "k1", Secret: secret32}
	for name, v := range map[string]any{"Key": k, "*Key": &k, "[]Key": []keyring.Key{k}} {
		out := printAll(v)
		assertNoSecret(t, name, out, secret32)
		if !strings.Contains(out, "k1") {
			t.Errorf("%s does not show its id: %q", name, out)
		}
	}
	for _, tt := range []struct{ format, want string }{
		{"%v", "k1"},
		{"%s", "k1"},
		{"%+v", "k1"},
		{"%q", `"k1"`},
		{"%#v", `keyring.Key{ID:"k1", Secret:[redacted]}`},
		{"%x", "k1"},
		{"%-4s|", "k1  |"},
	} {
		if got := fmt.Sprintf(tt.format, k); got != tt.want {
			t.Errorf("Sprintf(%q, key) = %q, want %q", tt.format, got, tt.want)
		}
	}
	j, err := json.Marshal(struct{ Key keyring.Key }{k})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"Key":{"ID":"k1","Secret":"[redacted]"}}`; string(j) != want {
		t.Errorf("json = %s, want %s", j, want)
	}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("loaded", "key", k)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("loaded", "key", k)
	assertNoSecret(t, "slog", logs.String(), secret32)
	if !strings.Contains(logs.String(), `"key":"k1"`) || !strings.Contains(logs.String(), "key=k1") {
		t.Errorf("slog output does not name the key: %s", logs.String())
	}
}

func TestKeyringDoesNotPrintSecret(t *testing.T) {
	k1 := keyring.Key{ID: "k1", Secret: secret32}
	k2 := keyring.Key{ID: "k2", Secret: bytes.Repeat([]byte{0x5a}, 32)}
	r := newRing(t, k2, k1)
	out := printAll(r) + printAll(*r) // the struct value too: fmt reads its fields
	assertNoSecret(t, "Keyring", out, k1.Secret)
	assertNoSecret(t, "Keyring", out, k2.Secret)
	if got, want := fmt.Sprint(r), "keyring[k2 k1]"; got != want {
		t.Errorf("Sprint(ring) = %q, want %q", got, want)
	}
	if got, want := fmt.Sprintf("%#v", r), `&keyring.Keyring{Keys:["k2" "k1"]}`; got != want {
		t.Errorf("Sprintf(%%#v, ring) = %q, want %q", got, want)
	}
}

func TestErrorsDoNotPrintSecrets(t *testing.T) {
	k := keyring.Key{ID: "k1", Secret: secret32}
	r := newRing(t, k)
	plaintext := []byte("xoxb-very-secret-token")
	sealed := mustSeal(t, r, string(plaintext), "w")
	tampered := bytes.Clone(sealed)
	tampered[len(tampered)-1] ^= 1

	var errs []error
	_, err := r.Open(sealed, []byte("other"))
	errs = append(errs, err)
	_, err = r.Open(tampered, []byte("w"))
	errs = append(errs, err)
	_, err = r.Open(plaintext, nil) // a plaintext where a sealed value belongs
	errs = append(errs, err)
	_, err = newRing(t, genKey(t, "k2")).Open(sealed, []byte("w"))
	errs = append(errs, err)
	_, err = keyring.ParseKey("k1", k.Encoded()[:40])
	errs = append(errs, err)
	_, err = keyring.ParseKey("k1", base64.StdEncoding.EncodeToString(secret32[:31]))
	errs = append(errs, err)
	_, err = keyring.ParseKey(k.Encoded(), k.Encoded()) // secret passed as the id
	errs = append(errs, err)
	_, err = keyring.New(k, keyring.Key{ID: "k1", Secret: secret32})
	errs = append(errs, err)
	_, err = keyring.New(keyring.Key{ID: k.Encoded(), Secret: secret32}) // secret as the id
	errs = append(errs, err)

	for i, err := range errs {
		if err == nil {
			t.Fatalf("case %d: no error", i)
		}
		out := printAll(err) + err.Error()
		assertNoSecret(t, fmt.Sprintf("error %d", i), out, secret32)
		assertNoSecret(t, fmt.Sprintf("error %d", i), out, secret32[:31])
		if strings.Contains(out, string(plaintext)) || strings.Contains(out, "very-secret") {
			t.Errorf("error %d shows the plaintext: %q", i, err)
		}
	}
}

func TestSecretRedacted(t *testing.T) {
	const token = "xoxb-very-secret-token"
	s := keyring.Secret(token)
	if got := s.Reveal(); got != token {
		t.Fatalf("Reveal = %q, want %q", got, token)
	}
	type response struct {
		Workspace string
		Token     keyring.Secret
		Ptr       *keyring.Secret
		List      []keyring.Secret
		Map       map[string]keyring.Secret
	}
	resp := response{"T1", s, &s, []keyring.Secret{s}, map[string]keyring.Secret{"k": s}}

	var out strings.Builder
	out.WriteString(printAll(s) + printAll(&s) + printAll(resp))
	out.WriteString(printAll(map[keyring.Secret]keyring.Secret{s: s}))
	out.WriteString(fmt.Errorf("post message with token %v: %w", s, errors.New("boom")).Error())
	for _, v := range []any{s, resp} {
		j, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		out.Write(j)
	}
	text, err := encoding.TextMarshaler(s).MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	out.Write(text)
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("sent", "token", s, "resp", resp)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("sent", "token", s, "resp", resp)
	out.WriteString(logs.String())
	func() {
		defer func() { out.WriteString(fmt.Sprint(recover())) }()
		panic(s)
	}()

	if strings.Contains(out.String(), "very-secret") {
		t.Fatalf("secret shown: %s", out.String())
	}
	if !strings.Contains(out.String(), "[redacted]") {
		t.Fatalf("no redaction marker in %s", out.String())
	}
	for _, tt := range []struct{ format, want string }{
		{"%v", "[redacted]"},
		{"%s", "[redacted]"},
		{"%q", `"[redacted]"`},
		{"%#v", `keyring.Secret("[redacted]")`},
		{"%x", "[redacted]"},
		{"%12s|", "  [redacted]|"},
	} {
		if got := fmt.Sprintf(tt.format, s); got != tt.want {
			t.Errorf("Sprintf(%q, secret) = %q, want %q", tt.format, got, tt.want)
		}
	}

	// A Secret still decodes from JSON, as any string type does.
	var in struct{ Token keyring.Secret }
	if err := json.Unmarshal([]byte(`{"Token":"xoxb-1"}`), &in); err != nil || in.Token.Reveal() != "xoxb-1" {
		t.Fatalf("Unmarshal = %q, %v", in.Token.Reveal(), err)
	}
}
