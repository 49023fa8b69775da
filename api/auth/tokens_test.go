package auth_test

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/heraldhq/herald/api/auth"
	"github.com/heraldhq/herald/scheduler"
)

func TestParseHash(t *testing.T) {
	sum := sha256.Sum256([]byte("secret"))
	hexSum := fmt.Sprintf("%x", sum)
	for _, tc := range []struct {
		name  string
		in    string
		valid bool
	}{
		{"lowercase", "sha256:" + hexSum, true},
		{"uppercase digits", "sha256:" + strings.ToUpper(hexSum), true},
		{"no prefix", hexSum, false},
		{"other algorithm", "sha512:" + hexSum, false},
		{"uppercase prefix", "SHA256:" + hexSum, false},
		{"short", "sha256:" + hexSum[:62], false},
		{"long", "sha256:" + hexSum + "00", false},
		{"not hex", "sha256:" + hexSum[:62] + "zz", false},
		{"empty", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := auth.ParseHash(tc.in)
			if !tc.valid {
				if err == nil {
					t.Fatalf("ParseHash(%q) = %x, want an error", tc.in, got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != sum {
				t.Fatalf("ParseHash = %x, want %x", got, sum)
			}
		})
	}
}

func TestHashRoundTrip(t *testing.T) {
	h := auth.HashToken("hrld_secret")
	if h != sha256.Sum256([]byte("hrld_secret")) {
		t.Fatal("HashToken is not SHA-256")
	}
	s := auth.FormatHash(h)
	if !strings.HasPrefix(s, "sha256:") || len(s) != len("sha256:")+64 {
		t.Fatalf("FormatHash = %q", s)
	}
	back, err := auth.ParseHash(s)
	if err != nil || back != h {
		t.Fatalf("ParseHash(FormatHash(h)) = %x, %v", back, err)
	}
}

func TestGenerateToken(t *testing.T) {
	seen := map[string]bool{}
	for range 20 {
		secret, err := auth.GenerateToken()
		if err != nil {
			t.Fatal(err)
		}
		raw, ok := strings.CutPrefix(secret, auth.TokenPrefix)
		if !ok {
			t.Fatalf("token %q lacks prefix %q", secret, auth.TokenPrefix)
		}
		b, err := base64.RawURLEncoding.DecodeString(raw)
		if err != nil || len(b) != 32 {
			t.Fatalf("token body decodes to %d bytes, %v; want 32", len(b), err)
		}
		if seen[secret] {
			t.Fatal("GenerateToken repeated a token")
		}
		seen[secret] = true
		// A generated token can be presented.
		if got, err := auth.Bearer(request("Bearer " + secret)); err != nil || got != secret {
			t.Fatalf("Bearer = %q, %v", got, err)
		}
	}
}

func TestNewTokensRefuses(t *testing.T) {
	h := func(s string) [32]byte { return auth.HashToken(s) }
	for _, tc := range []struct {
		name   string
		tokens []auth.Token
		field  string
		rule   string
	}{
		{"none", nil, "tokens", "must not be empty"},
		{"empty subject", []auth.Token{
			{Subject: "a", Hash: h("1")}, {Subject: "b", Hash: h("2")}, {Subject: "", Hash: h("3")},
		}, "tokens[2].subject", "must not be empty"},
		{"zero hash", []auth.Token{{Subject: "a"}}, "tokens[0].hash", "required"},
		{"duplicate hash", []auth.Token{
			{Subject: "a", Hash: h("1")}, {Subject: "b", Hash: h("2")}, {Subject: "c", Hash: h("1")},
		}, "tokens[2].hash", "duplicates tokens[0].hash"},
		{"long subject", []auth.Token{{Subject: strings.Repeat("s", 201), Hash: h("1")}}, "tokens[0].subject", "must be at most 200 bytes"},
		{"control character", []auth.Token{{Subject: "a\nb", Hash: h("1")}}, "tokens[0].subject", "must not hold control characters"},
		{"not UTF-8", []auth.Token{{Subject: "a\xffb", Hash: h("1")}}, "tokens[0].subject", "must be UTF-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := auth.NewTokens(tc.tokens)
			var ce *auth.ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want a *ConfigError", err)
			}
			if ce.Field != tc.field || ce.Rule != tc.rule {
				t.Fatalf("err = %v, want field %q rule %q", err, tc.field, tc.rule)
			}
			if want := "auth: " + tc.field + ": " + tc.rule; err.Error() != want {
				t.Fatalf("err = %q, want %q", err, want)
			}
		})
	}
}

func TestNewTokensSameSubjectTwice(t *testing.T) {
	_, err := auth.NewTokens([]auth.Token{
		{Subject: "ci", Hash: auth.HashToken("old")},
		{Subject: "ci", Hash: auth.HashToken("new")},
	})
	if err != nil {
		t.Fatalf("two tokens of one subject refused: %v", err)
	}
}

func TestTokensAuthenticate(t *testing.T) {
	const adminSecret, userSecret = "hrld_admin-secret", "hrld_user-secret"
	tokens, err := auth.NewTokens([]auth.Token{
		{Subject: "ops", Admin: true, Hash: auth.HashToken(adminSecret)},
		{Subject: "ci", Hash: auth.HashToken(userSecret)},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		headers []string
		want    scheduler.Principal
		err     error
		reason  string
	}{
		{"admin", []string{"Bearer " + adminSecret}, scheduler.Principal{Subject: "ops", Admin: true}, nil, ""},
		{"user", []string{"Bearer " + userSecret}, scheduler.Principal{Subject: "ci"}, nil, ""},
		{"scheme case", []string{"bEaReR " + userSecret}, scheduler.Principal{Subject: "ci"}, nil, ""},
		{"wrong token", []string{"Bearer hrld_wrong"}, scheduler.Principal{}, auth.ErrInvalidToken, "unknown token"},
		{"prefix of a token", []string{"Bearer " + userSecret[:len(userSecret)-1]}, scheduler.Principal{}, auth.ErrInvalidToken, "unknown token"},
		{"missing header", nil, scheduler.Principal{}, auth.ErrNoCredentials, "no authorization header"},
		{"basic scheme", []string{"Basic " + base64.StdEncoding.EncodeToString([]byte("ci:"+userSecret))}, scheduler.Principal{}, auth.ErrNoCredentials, "authorization scheme is not Bearer"},
		{"two tokens in the header", []string{"Bearer " + userSecret + " " + adminSecret}, scheduler.Principal{}, auth.ErrInvalidToken, "malformed bearer token"},
		{"two headers", []string{"Bearer " + userSecret, "Bearer " + adminSecret}, scheduler.Principal{}, auth.ErrInvalidToken, "several authorization headers"},
		{"over-long header", []string{"Bearer " + userSecret + strings.Repeat("x", auth.MaxTokenLength)}, scheduler.Principal{}, auth.ErrInvalidToken, "bearer token too long"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := tokens.Authenticate(request(tc.headers...))
			if tc.err != nil {
				checkRefusal(t, err, tc.err, tc.reason, adminSecret, userSecret)
				if p != (scheduler.Principal{}) {
					t.Fatalf("refusal came with principal %+v", p)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p != tc.want {
				t.Fatalf("principal = %+v, want %+v", p, tc.want)
			}
		})
	}
}

// TestTokensMany checks that every one of many tokens finds its own
// subject, wherever it stands in the list.
func TestTokensMany(t *testing.T) {
	const n = 500
	list := make([]auth.Token, n)
	for i := range list {
		list[i] = auth.Token{Subject: fmt.Sprintf("s%03d", i), Admin: i%7 == 0, Hash: auth.HashToken(fmt.Sprintf("hrld_%d", i))}
	}
	tokens, err := auth.NewTokens(list)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		p, err := tokens.Authenticate(request(fmt.Sprintf("Bearer hrld_%d", i)))
		if err != nil {
			t.Fatalf("token %d: %v", i, err)
		}
		if want := (scheduler.Principal{Subject: list[i].Subject, Admin: list[i].Admin}); p != want {
			t.Fatalf("token %d: principal = %+v, want %+v", i, p, want)
		}
	}
	_, err = tokens.Authenticate(request(fmt.Sprintf("Bearer hrld_%d", n)))
	checkRefusal(t, err, auth.ErrInvalidToken, "unknown token")
}
