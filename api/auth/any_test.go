package auth_test

import (
	"errors"
	"net/http"
	"testing"

	"github.com/heraldhq/herald/api/auth"
	"github.com/heraldhq/herald/scheduler"
)

// fixed returns an authenticator that answers p, err and counts its calls.
func fixed(p scheduler.Principal, err error, calls *int) auth.Authenticator {
	return auth.AuthenticatorFunc(func(*http.Request) (scheduler.Principal, error) {
		*calls++
		return p, err
	})
}

func TestAny(t *testing.T) {
	alice := scheduler.Principal{Subject: "alice"}
	root := scheduler.Principal{Subject: "root", Admin: true}
	none := &auth.Error{Kind: auth.ErrNoCredentials, Reason: "none"}
	bad := &auth.Error{Kind: auth.ErrInvalidToken, Reason: "bad"}
	bad2 := &auth.Error{Kind: auth.ErrInvalidToken, Reason: "bad2"}
	down := &auth.Error{Kind: auth.ErrUnavailable, Reason: "down"}
	custom := errors.New("custom refusal")
	type answer struct {
		p   scheduler.Principal
		err error
	}
	for _, tc := range []struct {
		name    string
		answers []answer
		want    scheduler.Principal
		err     error // the very error wanted
		calls   []int
	}{
		{"first wins", []answer{{alice, nil}, {root, nil}}, alice, nil, []int{1, 0}},
		{"second after no credentials", []answer{{err: none}, {root, nil}}, root, nil, []int{1, 1}},
		{"second after invalid", []answer{{err: bad}, {root, nil}}, root, nil, []int{1, 1}},
		{"second after unavailable", []answer{{err: down}, {alice, nil}}, alice, nil, []int{1, 1}},
		{"invalid beats no credentials", []answer{{err: none}, {err: bad}}, scheduler.Principal{}, bad, []int{1, 1}},
		{"unavailable beats invalid", []answer{{err: bad}, {err: down}, {err: none}}, scheduler.Principal{}, down, []int{1, 1, 1}},
		{"earliest among equals", []answer{{err: bad}, {err: bad2}}, scheduler.Principal{}, bad, []int{1, 1}},
		{"custom error ranks as invalid", []answer{{err: none}, {err: custom}, {err: bad}}, scheduler.Principal{}, custom, []int{1, 1, 1}},
		{"all no credentials", []answer{{err: none}, {err: none}}, scheduler.Principal{}, none, []int{1, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := make([]int, len(tc.answers))
			auths := make([]auth.Authenticator, len(tc.answers))
			for i, a := range tc.answers {
				auths[i] = fixed(a.p, a.err, &calls[i])
			}
			p, err := auth.Any(auths...).Authenticate(request("Bearer x"))
			if err != tc.err {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if p != tc.want {
				t.Fatalf("principal = %+v, want %+v", p, tc.want)
			}
			for i := range calls {
				if calls[i] != tc.calls[i] {
					t.Fatalf("calls = %v, want %v", calls, tc.calls)
				}
			}
		})
	}
}

func TestAnyEmpty(t *testing.T) {
	_, err := auth.Any().Authenticate(request("Bearer x"))
	checkRefusal(t, err, auth.ErrNoCredentials, "")
}

func TestAnyNil(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("Any(nil) did not panic")
		}
	}()
	auth.Any(nil)
}

// TestAnyTokensAndJWT accepts both kinds of credentials through one
// authenticator.
func TestAnyTokensAndJWT(t *testing.T) {
	tokens, err := auth.NewTokens([]auth.Token{{Subject: "ci", Hash: auth.HashToken("hrld_static")}})
	if err != nil {
		t.Fatal(err)
	}
	clk := newClock()
	j, err := auth.NewJWT(t.Context(), auth.JWTConfig{Secret: testSecret, Issuer: testIssuer, Audience: testAudience, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	a := auth.Any(tokens, j)
	for _, tc := range []struct {
		name   string
		header string
		want   scheduler.Principal
		err    error
	}{
		{"static token", "Bearer hrld_static", scheduler.Principal{Subject: "ci"}, nil},
		{"jwt", "Bearer " + signHS(t, testSecret, validClaims(clk.Now())), scheduler.Principal{Subject: "alice"}, nil},
		{"neither", "Bearer hrld_other", scheduler.Principal{}, auth.ErrInvalidToken},
		{"no credentials", "Basic eDp5", scheduler.Principal{}, auth.ErrNoCredentials},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := a.Authenticate(request(tc.header))
			if tc.err != nil {
				checkRefusal(t, err, tc.err, "")
				return
			}
			if err != nil || p != tc.want {
				t.Fatalf("Authenticate = %+v, %v; want %+v", p, err, tc.want)
			}
		})
	}
}
