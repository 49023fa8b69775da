package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/heraldhq/herald/api/auth"
)

func TestDashboardMountedAtRoot(t *testing.T) {
	apiHandler := mustServer(t, newMemstore(t), nil)
	tokens, err := auth.NewTokens([]auth.Token{{Subject: "ops", Admin: true, Hash: auth.HashToken("hrld_x")}})
	if err != nil {
		t.Fatal(err)
	}
	h, closeDashboard, err := withDashboard(apiHandler, tokens, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer closeDashboard()
	for _, tc := range []struct {
		path string
		code int
		want string
	}{
		{"/", http.StatusSeeOther, ""},
		{"/signin", http.StatusOK, "API token"},
		{"/healthz", http.StatusOK, `"ok"`},
		{"/v1/openapi.json", http.StatusOK, "openapi"},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tc.path, nil))
		if rec.Code != tc.code || !strings.Contains(rec.Body.String(), tc.want) {
			t.Errorf("GET %s = %d, want %d with %q", tc.path, rec.Code, tc.code, tc.want)
		}
	}
}
