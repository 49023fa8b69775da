package auth_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/api/auth"
	"github.com/heraldhq/herald/clock/clocktest"
)

// request returns a request whose Authorization headers are values.
func request(values ...string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/v1/schedules", nil)
	for _, v := range values {
		r.Header.Add("Authorization", v)
	}
	return r
}

// newClock returns a fake clock at a fixed instant.
func newClock() *clocktest.Clock {
	return clocktest.New(time.Date(2030, 3, 4, 5, 6, 7, 0, time.UTC))
}

// checkRefusal fails t unless err is an *auth.Error of kind want whose
// reason is reason (when not empty), and whose text holds none of secrets.
func checkRefusal(t *testing.T, err, want error, reason string, secrets ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("err = nil, want %v", want)
	}
	if !errors.Is(err, want) {
		t.Fatalf("err = %v, want it to match %v", err, want)
	}
	for _, other := range []error{auth.ErrNoCredentials, auth.ErrInvalidToken, auth.ErrUnavailable} {
		if other != want && errors.Is(err, other) {
			t.Fatalf("err = %v matches %v too", err, other)
		}
	}
	var ae *auth.Error
	if !errors.As(err, &ae) {
		t.Fatalf("err = %T, want *auth.Error", err)
	}
	if reason != "" && ae.Reason != reason {
		t.Fatalf("reason = %q, want %q", ae.Reason, reason)
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(err.Error(), s) {
			t.Fatalf("error text %q holds a secret", err)
		}
	}
}
