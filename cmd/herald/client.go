package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/heraldhq/herald/api"
)

// maxAnswer bounds an answer the client reads: a page of 1,000 runs with
// their payloads and outputs fits.
const maxAnswer = 64 << 20

// client is a client of Herald's REST API.
type client struct {
	base      *url.URL // the API's root, where /v1 is
	token     string
	userAgent string
	http      *http.Client
}

// newClient returns a client of the API at base; an empty token sends
// none.
func newClient(base *url.URL, token string, timeout time.Duration, userAgent string) *client {
	b := *base
	b.Path = strings.TrimSuffix(b.Path, "/")
	b.RawQuery, b.Fragment = "", ""
	return &client{base: &b, token: token, userAgent: userAgent,
		http: &http.Client{Timeout: timeout, Transport: http.DefaultTransport.(*http.Transport).Clone()}}
}

// close releases the client's idle connections.
func (c *client) close() { c.http.CloseIdleConnections() }

// apiError is an error answer of the API, with its problem details.
type apiError struct {
	Status    int
	Problem   api.Problem
	RequestID string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Status, e.Problem.Title, e.Problem.Detail)
}

// report is the error for a person: the status, title and detail, each
// invalid field on a line of its own, and the request id of a server
// error.
func (e *apiError) report() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s", e.Status, e.Problem.Title)
	if len(e.Problem.Errors) > 0 {
		for _, fe := range e.Problem.Errors {
			fmt.Fprintf(&b, "\n  %s: %s", fe.Field, fe.Message)
		}
	} else if e.Problem.Detail != "" {
		b.WriteString(": " + e.Problem.Detail)
	}
	if e.Status >= 500 && e.RequestID != "" {
		fmt.Fprintf(&b, "\n  (request id %s)", e.RequestID)
	}
	return b.String()
}

// do sends a request to path (under the API's root, "/v1/runs") with
// query and, unless nil, body as JSON, and returns the answer's body. An
// answer other than 2xx is an *apiError.
func (c *client) do(ctx context.Context, method, path string, query url.Values, body any) ([]byte, error) {
	u := *c.base
	u.Path += path
	u.RawQuery = query.Encode()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json, application/problem+json")
	req.Header.Set("User-Agent", c.userAgent)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is in the message below already
		}
		return nil, fmt.Errorf("%s %s: %w", method, u.Redacted(), err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return nil, fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if len(b) > maxAnswer {
		return nil, fmt.Errorf("%s %s: the answer is larger than %d bytes", method, path, maxAnswer)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, problemOf(resp, b)
	}
	return b, nil
}

// get sends a GET and decodes the answer into out.
func (c *client) get(ctx context.Context, path string, query url.Values, out any) ([]byte, error) {
	b, err := c.do(ctx, http.MethodGet, path, query, nil)
	if err != nil {
		return nil, err
	}
	return b, decodeAnswer(path, b, out)
}

// decodeAnswer decodes the answer b of path into out.
func decodeAnswer(path string, b []byte, out any) error {
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s: the answer is not the JSON expected: %w", path, err)
	}
	return nil
}

// problemOf reads an error answer: the API's problem details, or for an
// answer without them (a proxy's page), its status and the start of its
// text.
func problemOf(resp *http.Response, body []byte) *apiError {
	e := &apiError{Status: resp.StatusCode, RequestID: resp.Header.Get("X-Request-Id")}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mt == "application/problem+json" || mt == "application/json" {
		if json.Unmarshal(body, &e.Problem) == nil && e.Problem.Title != "" {
			return e
		}
	}
	e.Problem = api.Problem{Title: http.StatusText(resp.StatusCode), Status: resp.StatusCode}
	if text := strings.TrimSpace(string(body)); text != "" {
		if len(text) > 200 {
			text = text[:200] + "…"
		}
		e.Problem.Detail = text
	}
	return e
}
