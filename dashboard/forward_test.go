package dashboard_test

import (
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/heraldhq/herald/scheduler"
)

type schedulerPrincipal = scheduler.Principal

// forwardingAPI is an API handler, as an embedding service may wrap it.
type forwardingAPI struct{ h http.Handler }

func (f forwardingAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) { f.h.ServeHTTP(w, r) }

func newRequest(method, path string) *http.Request { return httptest.NewRequest(method, path, nil) }

func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }
