package auth_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/heraldhq/herald/api/auth"
	"github.com/heraldhq/herald/scheduler"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef-test-secret")

const (
	testIssuer   = "https://idp.test"
	testAudience = "herald"
)

// validClaims returns the claims of a valid token for alice at now.
func validClaims(now time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"iss": testIssuer,
		"aud": testAudience,
		"sub": "alice",
		"iat": now.Unix(),
		"nbf": now.Unix(),
		"exp": now.Add(time.Hour).Unix(),
	}
}

// sign signs claims with method and key, with kid in the header unless
// it is empty.
func sign(t *testing.T, method jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func signHS(t *testing.T, secret []byte, claims jwt.MapClaims) string {
	return sign(t, jwt.SigningMethodHS256, secret, "", claims)
}

// unsigned crafts a token with alg as its algorithm and no signature.
func unsigned(t *testing.T, alg, kid string, claims jwt.MapClaims) string {
	t.Helper()
	header := map[string]string{"alg": alg, "typ": "JWT"}
	if kid != "" {
		header["kid"] = kid
	}
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	c, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	return enc(h) + "." + enc(c) + "."
}

// edit returns claims changed by f.
func edit(claims jwt.MapClaims, f func(jwt.MapClaims)) jwt.MapClaims {
	c := jwt.MapClaims{}
	for k, v := range claims {
		c[k] = v
	}
	f(c)
	return c
}

func TestNewJWTRefuses(t *testing.T) {
	base := auth.JWTConfig{Secret: testSecret, Issuer: testIssuer, Audience: testAudience}
	for _, tc := range []struct {
		name  string
		edit  func(*auth.JWTConfig)
		field string
	}{
		{"no key", func(c *auth.JWTConfig) { c.Secret = nil }, "jwt.secret"},
		{"secret and jwks", func(c *auth.JWTConfig) { c.JWKSURL = "https://idp.test/jwks" }, "jwt.secret"},
		{"short secret", func(c *auth.JWTConfig) { c.Secret = testSecret[:31] }, "jwt.secret"},
		{"no issuer", func(c *auth.JWTConfig) { c.Issuer = "" }, "jwt.issuer"},
		{"no audience", func(c *auth.JWTConfig) { c.Audience = "" }, "jwt.audience"},
		{"negative leeway", func(c *auth.JWTConfig) { c.Leeway = -time.Second }, "jwt.leeway"},
		{"leeway over 5m", func(c *auth.JWTConfig) { c.Leeway = 5*time.Minute + 1 }, "jwt.leeway"},
		{"same roles", func(c *auth.JWTConfig) { c.UserRole = "admin" }, "jwt.user_role"},
		{"same claims", func(c *auth.JWTConfig) { c.RoleClaim = "sub" }, "jwt.role_claim"},
		{"short refresh", func(c *auth.JWTConfig) { c.RefreshInterval = time.Second }, "jwt.refresh_interval"},
		{"short refetch", func(c *auth.JWTConfig) { c.RefetchInterval = time.Millisecond }, "jwt.refetch_interval"},
		{"relative jwks url", func(c *auth.JWTConfig) { c.Secret, c.JWKSURL = nil, "/jwks" }, "jwt.jwks_url"},
		{"ftp jwks url", func(c *auth.JWTConfig) { c.Secret, c.JWKSURL = nil, "ftp://idp.test/jwks" }, "jwt.jwks_url"},
		{"plain http jwks url", func(c *auth.JWTConfig) { c.Secret, c.JWKSURL = nil, "http://idp.test/jwks" }, "jwt.jwks_url"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base
			tc.edit(&cfg)
			j, err := auth.NewJWT(t.Context(), cfg)
			var ce *auth.ConfigError
			if !errors.As(err, &ce) {
				if j != nil {
					j.Close()
				}
				t.Fatalf("err = %v, want a *ConfigError", err)
			}
			if ce.Field != tc.field {
				t.Fatalf("err = %v, want field %q", err, tc.field)
			}
			if strings.Contains(err.Error(), string(testSecret)) {
				t.Fatalf("err %q holds the secret", err)
			}
		})
	}
	_, err := auth.NewJWT(t.Context(), auth.JWTConfig{Secret: testSecret, Audience: testAudience})
	if err == nil || err.Error() != "auth: jwt.issuer: required" {
		t.Fatalf("err = %v, want auth: jwt.issuer: required", err)
	}
}

// TestJWTSecret checks tokens against an HS256 secret: the claims, the
// role, and every refusal.
func TestJWTSecret(t *testing.T) {
	clk := newClock()
	now := clk.Now()
	j, err := auth.NewJWT(t.Context(), auth.JWTConfig{Secret: testSecret, Issuer: testIssuer, Audience: testAudience, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	valid := validClaims(now)
	with := func(f func(jwt.MapClaims)) string { return signHS(t, testSecret, edit(valid, f)) }
	alice := scheduler.Principal{Subject: "alice"}
	root := scheduler.Principal{Subject: "alice", Admin: true}
	for _, tc := range []struct {
		name   string
		token  string
		want   scheduler.Principal
		reason string // of the ErrInvalidToken wanted
	}{
		{"valid, no role", signHS(t, testSecret, valid), alice, ""},
		{"role user", with(func(c jwt.MapClaims) { c["role"] = "user" }), alice, ""},
		{"role admin", with(func(c jwt.MapClaims) { c["role"] = "admin" }), root, ""},
		{"roles with admin", with(func(c jwt.MapClaims) { c["role"] = []string{"viewer", "admin"} }), root, ""},
		{"roles with user", with(func(c jwt.MapClaims) { c["role"] = []string{"viewer", "user"} }), alice, ""},
		{"roles with both", with(func(c jwt.MapClaims) { c["role"] = []string{"user", "admin"} }), root, ""},
		{"null role", with(func(c jwt.MapClaims) { c["role"] = nil }), alice, ""},
		{"aud array", with(func(c jwt.MapClaims) { c["aud"] = []string{"other", testAudience} }), alice, ""},
		{"expired within leeway", with(func(c jwt.MapClaims) { c["exp"] = now.Add(-20 * time.Second).Unix() }), alice, ""},
		{"nbf within leeway", with(func(c jwt.MapClaims) { c["nbf"] = now.Add(20 * time.Second).Unix() }), alice, ""},
		{"no nbf nor iat", with(func(c jwt.MapClaims) { delete(c, "nbf"); delete(c, "iat") }), alice, ""},
		{"longest subject", with(func(c jwt.MapClaims) { c["sub"] = strings.Repeat("s", 200) }), scheduler.Principal{Subject: strings.Repeat("s", 200)}, ""},

		{"role not allowed", with(func(c jwt.MapClaims) { c["role"] = "guest" }), scheduler.Principal{}, "role not allowed"},
		{"roles not allowed", with(func(c jwt.MapClaims) { c["role"] = []string{"guest", "viewer"} }), scheduler.Principal{}, "role not allowed"},
		{"empty roles", with(func(c jwt.MapClaims) { c["role"] = []string{} }), scheduler.Principal{}, "role not allowed"},
		{"role case differs", with(func(c jwt.MapClaims) { c["role"] = "Admin" }), scheduler.Principal{}, "role not allowed"},
		{"role a number", with(func(c jwt.MapClaims) { c["role"] = 1 }), scheduler.Principal{}, "malformed role claim"},
		{"roles with a number", with(func(c jwt.MapClaims) { c["role"] = []any{"admin", 1} }), scheduler.Principal{}, "malformed role claim"},
		{"alg none", unsigned(t, "none", "", valid), scheduler.Principal{}, "algorithm none not allowed"},
		{"alg NONE", unsigned(t, "NONE", "", valid), scheduler.Principal{}, "algorithm none not allowed"},
		{"alg HS384", sign(t, jwt.SigningMethodHS384, testSecret, "", valid), scheduler.Principal{}, "algorithm not allowed"},
		{"no alg", unsigned(t, "", "", valid), scheduler.Principal{}, "malformed token"},
		{"wrong secret", signHS(t, []byte("another-secret-of-at-least-32-bytes!!"), valid), scheduler.Principal{}, "signature invalid"},
		{"tampered claims", tamper(t, signHS(t, testSecret, valid)), scheduler.Principal{}, "signature invalid"},
		{"expired", with(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Minute).Unix() }), scheduler.Principal{}, "token expired"},
		{"not yet valid", with(func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Minute).Unix() }), scheduler.Principal{}, "token not yet valid"},
		{"issued in the future", with(func(c jwt.MapClaims) { c["iat"] = now.Add(time.Minute).Unix() }), scheduler.Principal{}, "token issued in the future"},
		{"missing exp", with(func(c jwt.MapClaims) { delete(c, "exp") }), scheduler.Principal{}, "missing exp claim"},
		{"exp a string", with(func(c jwt.MapClaims) { c["exp"] = "tomorrow" }), scheduler.Principal{}, "malformed claims"},
		{"wrong issuer", with(func(c jwt.MapClaims) { c["iss"] = "https://evil.test" }), scheduler.Principal{}, "wrong issuer"},
		{"missing issuer", with(func(c jwt.MapClaims) { delete(c, "iss") }), scheduler.Principal{}, "missing iss claim"},
		{"wrong audience", with(func(c jwt.MapClaims) { c["aud"] = "other" }), scheduler.Principal{}, "wrong audience"},
		{"wrong audiences", with(func(c jwt.MapClaims) { c["aud"] = []string{"a", "b"} }), scheduler.Principal{}, "wrong audience"},
		{"missing audience", with(func(c jwt.MapClaims) { delete(c, "aud") }), scheduler.Principal{}, "missing aud claim"},
		{"missing subject", with(func(c jwt.MapClaims) { delete(c, "sub") }), scheduler.Principal{}, "missing subject"},
		{"empty subject", with(func(c jwt.MapClaims) { c["sub"] = "" }), scheduler.Principal{}, "subject must not be empty"},
		{"long subject", with(func(c jwt.MapClaims) { c["sub"] = strings.Repeat("s", 201) }), scheduler.Principal{}, "subject must be at most 200 bytes"},
		{"subject a number", with(func(c jwt.MapClaims) { c["sub"] = 42 }), scheduler.Principal{}, "malformed subject"},
		{"subject with newline", with(func(c jwt.MapClaims) { c["sub"] = "a\nb" }), scheduler.Principal{}, "subject must not hold control characters"},
		{"not a jwt", "hrld_abc", scheduler.Principal{}, "malformed token"},
		{"four parts", signHS(t, testSecret, valid) + ".x", scheduler.Principal{}, "malformed token"},
		{"critical header", signCrit(t), scheduler.Principal{}, "unsupported critical header"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := j.Authenticate(request("Bearer " + tc.token))
			if tc.reason != "" {
				checkRefusal(t, err, auth.ErrInvalidToken, tc.reason, tc.token, string(testSecret))
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

// tamper changes the subject of a signed token, keeping its signature.
func tamper(t *testing.T, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	b = []byte(strings.Replace(string(b), `"alice"`, `"admin"`, 1))
	parts[1] = base64.RawURLEncoding.EncodeToString(b)
	return strings.Join(parts, ".")
}

// signCrit signs a valid token whose header has a crit parameter.
func signCrit(t *testing.T) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, validClaims(newClock().Now()))
	tok.Header["crit"] = []string{"exp"}
	s, err := tok.SignedString(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestJWTCustomClaims(t *testing.T) {
	clk := newClock()
	j, err := auth.NewJWT(t.Context(), auth.JWTConfig{
		Secret: testSecret, Issuer: testIssuer, Audience: testAudience, Clock: clk,
		SubjectClaim: "email", RoleClaim: "groups", AdminRole: "herald-admins", UserRole: "herald-users",
		Leeway: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	base := edit(validClaims(clk.Now()), func(c jwt.MapClaims) { c["email"] = "bob@example.test" })
	for _, tc := range []struct {
		name   string
		claims jwt.MapClaims
		want   scheduler.Principal
		reason string
	}{
		{"admin group", edit(base, func(c jwt.MapClaims) { c["groups"] = []string{"x", "herald-admins"} }), scheduler.Principal{Subject: "bob@example.test", Admin: true}, ""},
		{"user group", edit(base, func(c jwt.MapClaims) { c["groups"] = "herald-users" }), scheduler.Principal{Subject: "bob@example.test"}, ""},
		{"default names mean nothing", edit(base, func(c jwt.MapClaims) { c["groups"] = "admin" }), scheduler.Principal{}, "role not allowed"},
		{"role claim ignored", edit(base, func(c jwt.MapClaims) { c["role"] = "admin" }), scheduler.Principal{Subject: "bob@example.test"}, ""},
		{"no email", edit(base, func(c jwt.MapClaims) { delete(c, "email") }), scheduler.Principal{}, "missing subject"},
		{"expired beyond 1s leeway", edit(base, func(c jwt.MapClaims) { c["exp"] = clk.Now().Add(-2 * time.Second).Unix() }), scheduler.Principal{}, "token expired"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := j.Authenticate(request("Bearer " + signHS(t, testSecret, tc.claims)))
			if tc.reason != "" {
				checkRefusal(t, err, auth.ErrInvalidToken, tc.reason)
				return
			}
			if err != nil || p != tc.want {
				t.Fatalf("Authenticate = %+v, %v; want %+v", p, err, tc.want)
			}
		})
	}
}

// TestJWTClock checks that the injected clock decides expiry.
func TestJWTClock(t *testing.T) {
	clk := newClock()
	j, err := auth.NewJWT(context.Background(), auth.JWTConfig{Secret: testSecret, Issuer: testIssuer, Audience: testAudience, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	token := signHS(t, testSecret, validClaims(clk.Now()))
	if _, err := j.Authenticate(request("Bearer " + token)); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour + 29*time.Second) // within the 30s leeway
	if _, err := j.Authenticate(request("Bearer " + token)); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Second)
	_, err = j.Authenticate(request("Bearer " + token))
	checkRefusal(t, err, auth.ErrInvalidToken, "token expired")
}

func TestJWTNoCredentials(t *testing.T) {
	j, err := auth.NewJWT(t.Context(), auth.JWTConfig{Secret: testSecret, Issuer: testIssuer, Audience: testAudience})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	_, err = j.Authenticate(request())
	checkRefusal(t, err, auth.ErrNoCredentials, "no authorization header")
	_, err = j.Authenticate(request("Basic eDp5"))
	checkRefusal(t, err, auth.ErrNoCredentials, "authorization scheme is not Bearer")
}
