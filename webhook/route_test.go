package webhook_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/heraldhq/herald/webhook"
)

// TestHandlerRouting checks that a request reaches a source only through
// a path that is exactly its mount and the source's name, however the
// Handler is mounted, and that every other path is refused (or, where the
// ServeMux redirects an unclean path, never reaches the Handler).
func TestHandlerRouting(t *testing.T) {
	mounts := map[string]func(h http.Handler) http.Handler{
		"wildcard": func(h http.Handler) http.Handler {
			mux := http.NewServeMux()
			mux.Handle("POST /v1/webhooks/{source}", h)
			return mux
		},
		"wildcard among others": func(h http.Handler) http.Handler {
			mux := http.NewServeMux()
			mux.Handle("POST /t/{tenant}/hooks/{source}", h)
			return mux
		},
		"subtree": func(h http.Handler) http.Handler {
			mux := http.NewServeMux()
			mux.Handle("POST /raw/", h)
			return mux
		},
		"strip prefix": func(h http.Handler) http.Handler {
			mux := http.NewServeMux()
			mux.Handle("/raw/", http.StripPrefix("/raw", h))
			return mux
		},
		"bare strip prefix": func(h http.Handler) http.Handler { return http.StripPrefix("/raw", h) },
		"direct":            func(h http.Handler) http.Handler { return h },
	}
	const redirect = http.StatusTemporaryRedirect // the ServeMux's answer to an unclean path
	cases := []struct {
		mount  string
		path   string
		status int
		source string // the source reached, for 200
	}{
		{"wildcard", "/v1/webhooks/github", http.StatusOK, "github"},
		{"wildcard", "/v1/webhooks/%67ithub", http.StatusOK, "github"}, // the ServeMux decodes a wildcard's segment
		{"wildcard", "/v1/webhooks/%2e%2e%2fopen", http.StatusBadRequest, ""},
		{"wildcard", "/v1/webhooks/github%2f", http.StatusBadRequest, ""},
		{"wildcard", "/v1/webhooks/..%2fgithub", http.StatusBadRequest, ""},
		{"wildcard", "/v1/webhooks/x/github", http.StatusNotFound, ""},
		{"wildcard", "/v1/webhooks/github/", http.StatusNotFound, ""},
		{"wildcard among others", "/t/acme/hooks/github", http.StatusOK, "github"},
		{"wildcard among others", "/t/acme/hooks/x%2fgithub", http.StatusBadRequest, ""},

		{"subtree", "/raw/github", http.StatusOK, "github"},
		{"subtree", "/raw/open", http.StatusOK, "open"},
		{"subtree", "/raw/%2e%2e%2fopen", http.StatusNotFound, ""},
		{"subtree", "/raw/%2e%2e/open", http.StatusNotFound, ""},
		{"subtree", "/raw/x/github", http.StatusNotFound, ""},
		{"subtree", "/raw/github/", http.StatusNotFound, ""},
		{"subtree", "/raw/github%2f", http.StatusNotFound, ""},
		{"subtree", "/raw/github%2F", http.StatusNotFound, ""},
		{"subtree", "/raw/..%2fgithub", http.StatusNotFound, ""},
		{"subtree", "/raw/%2e%2e", http.StatusNotFound, ""},
		{"subtree", "/raw/raw/github", http.StatusNotFound, ""},
		{"subtree", "/raw/", http.StatusNotFound, ""},
		{"subtree", "/raw/./github", redirect, ""},
		{"subtree", "/raw//github", redirect, ""},
		{"subtree", "/raw/%67ithub", http.StatusBadRequest, ""},
		{"subtree", "/raw/Bad_Name", http.StatusBadRequest, ""},
		{"subtree", "/raw/nope", http.StatusNotFound, ""},

		{"strip prefix", "/raw/github", http.StatusOK, "github"},
		{"strip prefix", "/raw/%2e%2e%2fopen", http.StatusNotFound, ""},
		{"strip prefix", "/raw/%2e%2e/open", http.StatusNotFound, ""},
		{"strip prefix", "/raw/x/github", http.StatusNotFound, ""},
		{"strip prefix", "/raw/github/", http.StatusNotFound, ""},
		{"strip prefix", "/raw/github%2f", http.StatusNotFound, ""},
		{"strip prefix", "/raw/..%2fgithub", http.StatusNotFound, ""},
		{"strip prefix", "/raw/raw/github", http.StatusNotFound, ""},
		{"strip prefix", "/raw/", http.StatusNotFound, ""},
		{"strip prefix", "/raw/./github", redirect, ""},
		{"strip prefix", "/raw/%67ithub", http.StatusBadRequest, ""},

		{"bare strip prefix", "/raw/github", http.StatusOK, "github"},
		{"bare strip prefix", "/raw/%2e%2e%2fopen", http.StatusNotFound, ""},
		{"bare strip prefix", "/raw/x/github", http.StatusNotFound, ""},
		{"bare strip prefix", "/raw/./github", http.StatusNotFound, ""},

		{"direct", "/github", http.StatusOK, "github"},
		{"direct", "/%2e%2e%2fopen", http.StatusNotFound, ""},
		{"direct", "/%2e%2e/open", http.StatusNotFound, ""},
		{"direct", "/x/github", http.StatusNotFound, ""},
		{"direct", "/github/", http.StatusNotFound, ""},
		{"direct", "/github%2f", http.StatusNotFound, ""},
		{"direct", "/./github", http.StatusNotFound, ""},
		{"direct", "/..%2fgithub", http.StatusNotFound, ""},
		{"direct", "//github", http.StatusNotFound, ""},
		{"direct", "/", http.StatusNotFound, ""},
		{"direct", "/raw/github", http.StatusNotFound, ""},
		{"direct", "/%67ithub", http.StatusBadRequest, ""},
	}
	for _, c := range cases {
		t.Run(c.mount+" "+c.path, func(t *testing.T) {
			var reached []string
			sink := webhook.SinkFunc(func(_ context.Context, e *webhook.Event) (*webhook.Receipt, error) {
				reached = append(reached, e.Source)
				return &webhook.Receipt{EventID: "e", RunID: "r"}, nil
			})
			h, err := webhook.NewHandler(webhook.HandlerConfig{Sink: sink, Sources: []webhook.Source{
				{Name: "github", Verifier: webhook.Insecure(), Agent: "echo", Owner: "ops"},
				{Name: "open", Verifier: webhook.Insecure(), Agent: "echo", Owner: "ops"},
			}})
			if err != nil {
				t.Fatal(err)
			}
			rec := httptest.NewRecorder()
			mounts[c.mount](h).ServeHTTP(rec, httptest.NewRequest(http.MethodPost, c.path, strings.NewReader(`{}`)))
			if rec.Code != c.status {
				t.Errorf("status %d (%s), want %d", rec.Code, strings.TrimSpace(rec.Body.String()), c.status)
			}
			want := []string(nil)
			if c.source != "" {
				want = []string{c.source}
			}
			if strings.Join(reached, ",") != strings.Join(want, ",") {
				t.Errorf("reached sources %q, want %q", reached, want)
			}
		})
	}
}
