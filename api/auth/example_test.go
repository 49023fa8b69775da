package auth_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/heraldhq/herald/api/auth"
)

func ExampleTokens() {
	// A configuration file holds digests only, as written by
	// auth.FormatHash(auth.HashToken(secret)) for a secret that
	// auth.GenerateToken made.
	ciHash, err := auth.ParseHash("sha256:f3a62d2ac7d6b1b9a0e2df0c5d2a3d7e0fd10f5bda1f6a15a8ea33e7b8a4e9a8")
	if err != nil {
		fmt.Println(err)
		return
	}
	tokens, err := auth.NewTokens([]auth.Token{
		{Subject: "ops", Admin: true, Hash: auth.HashToken("hrld_example-ops-secret")},
		{Subject: "ci", Hash: ciHash},
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	r := httptest.NewRequest(http.MethodGet, "/v1/schedules", nil)
	r.Header.Set("Authorization", "Bearer hrld_example-ops-secret")
	p, err := tokens.Authenticate(r)
	fmt.Println(p.Subject, p.Admin, err)

	r.Header.Set("Authorization", "Bearer hrld_wrong")
	_, err = tokens.Authenticate(r)
	fmt.Println(errors.Is(err, auth.ErrInvalidToken), err)

	r.Header.Del("Authorization")
	_, err = tokens.Authenticate(r)
	fmt.Println(errors.Is(err, auth.ErrNoCredentials), err)
	// Output:
	// ops true <nil>
	// true auth: invalid token: unknown token
	// true auth: no credentials: no authorization header
}
