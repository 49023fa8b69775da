package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/heraldhq/herald/api"
	"github.com/heraldhq/herald/api/auth"
)

// TestJWTThroughTheAPI checks the API's answers to JWTs: a valid one acts
// as its subject and role, and each refusal is a 401 with an invalid_token
// challenge and a reason, never the token.
func TestJWTThroughTheAPI(t *testing.T) {
	f := newFixture(t)
	secret := []byte(strings.Repeat("k", 32))
	now := f.h.Clock.Now()
	j, err := auth.NewJWT(context.Background(), auth.JWTConfig{Secret: secret, Issuer: "https://id.test", Audience: "herald",
		Clock: f.h.Clock})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	a, err := api.New(api.Config{Scheduler: f.h.Scheduler, Authenticator: j})
	if err != nil {
		t.Fatal(err)
	}
	sign := func(claims jwt.MapClaims, key []byte) string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	claims := func(kv ...any) jwt.MapClaims {
		c := jwt.MapClaims{"iss": "https://id.test", "aud": "herald", "sub": "carol", "role": "user",
			"exp": now.Add(time.Hour).Unix(), "nbf": now.Add(-time.Minute).Unix()}
		for i := 0; i < len(kv); i += 2 {
			c[kv[i].(string)] = kv[i+1]
		}
		return c
	}
	call := func(token string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", "/v1/runs", strings.NewReader(`{"agent":"echo"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		a.ServeHTTP(rec, req)
		return rec
	}
	if rec := call(sign(claims(), secret)); rec.Code != http.StatusAccepted {
		t.Fatalf("valid token: %d %s", rec.Code, rec.Body)
	}
	none := "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0." + strings.Split(sign(claims("role", "admin"), secret), ".")[1] + "."
	for name, token := range map[string]string{
		"alg none":        none,
		"wrong signature": sign(claims(), []byte(strings.Repeat("x", 32))),
		"expired":         sign(claims("exp", now.Add(-time.Hour).Unix()), secret),
		"not yet valid":   sign(claims("nbf", now.Add(time.Hour).Unix()), secret),
		"wrong audience":  sign(claims("aud", "other"), secret),
		"wrong issuer":    sign(claims("iss", "https://evil.test"), secret),
	} {
		t.Run(name, func(t *testing.T) {
			rec := call(token)
			if rec.Code != http.StatusUnauthorized {
				t.Fatalf("status %d %s, want 401", rec.Code, rec.Body)
			}
			if got := rec.Header().Get("WWW-Authenticate"); !strings.Contains(got, `error="invalid_token"`) {
				t.Errorf("WWW-Authenticate %q", got)
			}
			if body := rec.Body.String(); strings.Contains(body, token) || !strings.Contains(body, "not valid: ") {
				t.Errorf("body %s: want a reason and no token", body)
			}
		})
	}
}
