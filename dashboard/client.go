package dashboard

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/heraldhq/herald/api"
)

// apiError is a problem the API answered.
type apiError struct {
	api.Problem
}

func (e *apiError) Error() string { return fmt.Sprintf("api: %d %s: %s", e.Status, e.Title, e.Detail) }

// recorder is the in-process answer of the API.
type recorder struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (rec *recorder) Header() http.Header { return rec.header }
func (rec *recorder) WriteHeader(code int) {
	if rec.code == 0 {
		rec.code = code
	}
}
func (rec *recorder) Write(b []byte) (int, error) {
	if rec.code == 0 {
		rec.code = http.StatusOK
	}
	return rec.body.Write(b)
}

// skipForward are the headers of a browser's request that are not
// forwarded to the API: those of its own body and connection, and the
// dashboard's own.
var skipForward = map[string]bool{"Content-Type": true, "Content-Length": true, "Accept": true, "Accept-Encoding": true,
	"Connection": true, "Keep-Alive": true, "Te": true, "Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
	"X-Csrf-Token": true, "X-Herald-Live": true}

// call sends the API a request as v, in process: method and path (with
// its query), in a JSON body, and decodes a 2xx answer into out (when not
// nil). An answer of 4xx or 5xx is an *apiError.
func (d *Dashboard) call(ctx context.Context, v *viewer, method, path string, in, out any) error {
	var body bytes.Buffer
	if in != nil {
		if err := json.NewEncoder(&body).Encode(in); err != nil {
			return fmt.Errorf("encode %s %s: %w", method, path, err)
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, path, &body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if v.from != nil {
		req.RemoteAddr = v.from.RemoteAddr
		req.TLS = v.from.TLS
		for k, vals := range v.from.Header {
			if !skipForward[k] {
				req.Header[k] = vals
			}
		}
	} else {
		req.Header.Set("Authorization", "Bearer "+v.token)
	}
	rec := &recorder{header: http.Header{}}
	d.api.ServeHTTP(rec, req)
	if rec.code == 0 {
		rec.code = http.StatusOK
	}
	if rec.code >= 400 {
		e := &apiError{}
		if json.Unmarshal(rec.body.Bytes(), &e.Problem) != nil || e.Status == 0 {
			e.Problem = api.Problem{Status: rec.code, Title: http.StatusText(rec.code), Detail: "the API answered " + http.StatusText(rec.code)}
		}
		return e
	}
	if out != nil && rec.code != http.StatusNoContent {
		if err := json.Unmarshal(rec.body.Bytes(), out); err != nil {
			return fmt.Errorf("decode %s %s: %w", method, path, err)
		}
	}
	return nil
}

// get is call with GET, path and query.
func (d *Dashboard) get(ctx context.Context, v *viewer, path string, q url.Values, out any) error {
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	return d.call(ctx, v, http.MethodGet, path, nil, out)
}
