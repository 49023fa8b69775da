package httppost_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/delivery/httppost"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// receiver is a test server that answers with the statuses of script in
// turn (the last one repeatedly) and counts the requests.
type receiver struct {
	*httptest.Server
	hits atomic.Int32
}

// step is one scripted answer.
type step struct {
	status int
	header map[string]string
	body   string
	hang   bool // wait for the client to go away
}

func newReceiver(t *testing.T, script ...step) *receiver {
	t.Helper()
	r := &receiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		n := int(r.hits.Add(1)) - 1
		s := script[min(n, len(script)-1)]
		if s.hang {
			// Only once the body is read does the server notice the
			// client going away.
			io.Copy(io.Discard, req.Body)
			<-req.Context().Done()
			return
		}
		for k, v := range s.header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(s.status)
		io.WriteString(w, s.body)
	}))
	t.Cleanup(r.Close)
	return r
}

// fast are options that keep the in-call waits short.
var fast = httppost.Options{MaxWait: 2 * time.Second, Timeout: time.Second}

// retrying asks for retries within the call, which a Client makes only
// when asked.
var retrying = httppost.Options{Retries: 2}

func post(t *testing.T, c *httppost.Client, url string) (*httppost.Response, error) {
	t.Helper()
	return c.Post(t.Context(), &httppost.Request{What: "test hook", URL: url, Body: []byte(`{"a":1}`)})
}

func TestClassification(t *testing.T) {
	for _, tc := range []struct {
		name       string
		script     []step
		opts       httppost.Options
		wantErr    string // substring; empty means success
		permanent  bool
		retryAfter time.Duration
		hits       int32
	}{
		{name: "ok", script: []step{{status: 200, body: "ok"}}, hits: 1},
		{name: "accepted", script: []step{{status: 202}}, hits: 1},
		{name: "500 is one request", script: []step{{status: 500, body: "boom"}, {status: 200}}, wantErr: "test hook: status 500 Internal Server Error: boom", hits: 1},
		{name: "429 is one request", script: []step{{status: 429, header: map[string]string{"Retry-After": "1"}}, {status: 200}},
			wantErr: "status 429", retryAfter: time.Second, hits: 1},
		{name: "negative retries", script: []step{{status: 500}}, opts: httppost.Options{Retries: -1}, wantErr: "status 500", hits: 1},
		{name: "retries: 500 then success", script: []step{{status: 500}, {status: 200}}, opts: retrying, hits: 2},
		{name: "retries: 503 twice then success", script: []step{{status: 503}, {status: 503}, {status: 204}}, opts: retrying, hits: 3},
		{name: "retries: 500 for good", script: []step{{status: 500, body: "boom"}}, opts: retrying, wantErr: "test hook: status 500 Internal Server Error: boom", hits: 3},
		{name: "retries: 429 short wait retried", script: []step{{status: 429, header: map[string]string{"Retry-After": "1"}}, {status: 200}}, opts: retrying, hits: 2},
		{name: "retries: 429 long wait returned", script: []step{{status: 429, header: map[string]string{"Retry-After": "60"}}}, opts: retrying,
			wantErr: "status 429", retryAfter: time.Minute, hits: 1},
		{name: "429 long wait returned", script: []step{{status: 429, header: map[string]string{"Retry-After": "60"}, body: `{"ok":false,"error":"ratelimited"}`}},
			wantErr: `status 429 Too Many Requests: {"ok":false,"error":"ratelimited"}`, retryAfter: time.Minute, hits: 1},
		{name: "503 long wait returned", script: []step{{status: 503, header: map[string]string{"Retry-After": "120"}}},
			wantErr: "status 503", retryAfter: 2 * time.Minute, hits: 1},
		{name: "400", script: []step{{status: 400, body: "invalid_payload"}}, wantErr: "status 400 Bad Request: invalid_payload", permanent: true, hits: 1},
		{name: "404", script: []step{{status: 404, body: "no_service"}}, wantErr: "no_service", permanent: true, hits: 1},
		{name: "410", script: []step{{status: 410}}, wantErr: "status 410", permanent: true, hits: 1},
		{name: "501", script: []step{{status: 501}}, wantErr: "status 501", hits: 1},
		{name: "408", script: []step{{status: 408}}, wantErr: "status 408", hits: 1},
		{name: "redirect not followed", script: []step{{status: 302, header: map[string]string{"Location": "http://127.0.0.1:1/x"}}},
			wantErr: "redirects are not followed", permanent: true, hits: 1},
		{name: "timeout", script: []step{{hang: true}}, opts: httppost.Options{Timeout: 100 * time.Millisecond, Retries: -1},
			wantErr: "test hook: no response within the attempt's timeout", hits: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newReceiver(t, tc.script...)
			opts := tc.opts
			if opts.MaxWait == 0 {
				opts.MaxWait = fast.MaxWait
			}
			if opts.Timeout == 0 {
				opts.Timeout = fast.Timeout
			}
			resp, err := post(t, httppost.New(opts), r.URL+"/secret-path")
			if got := r.hits.Load(); got != tc.hits {
				t.Errorf("the receiver got %d requests, want %d", got, tc.hits)
			}
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Post = %v, want success", err)
				}
				if resp.StatusCode/100 != 2 {
					t.Errorf("status %d, want 2xx", resp.StatusCode)
				}
				return
			}
			if err == nil {
				t.Fatalf("Post succeeded, want an error with %q", tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Post = %q, want it to contain %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), "secret-path") || strings.Contains(err.Error(), "127.0.0.1") {
				t.Errorf("the error %q names the URL", err)
			}
			if got := delivery.IsPermanent(err); got != tc.permanent {
				t.Errorf("IsPermanent(%v) = %t, want %t", err, got, tc.permanent)
			}
			d, ok := delivery.RetryDelay(err)
			if tc.retryAfter > 0 && (!ok || d != tc.retryAfter) {
				t.Errorf("RetryDelay = %v, %t; want %v", d, ok, tc.retryAfter)
			}
			if tc.retryAfter == 0 && ok {
				t.Errorf("RetryDelay = %v, want none", d)
			}
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
				t.Errorf("Post = %v, which matches a context error, but the caller's context did not end", err)
			}
		})
	}
}

func TestRequest(t *testing.T) {
	var got *http.Request
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		body, _ = io.ReadAll(r.Body)
		io.WriteString(w, `{"ok":true}`)
	}))
	defer srv.Close()
	c := httppost.New(httppost.Options{UserAgent: "herald-test"})
	resp, err := c.Post(t.Context(), &httppost.Request{What: "x", URL: srv.URL + "/p?q=1", ContentType: "text/plain",
		Header: http.Header{"Idempotency-Key": {"k1"}}, Body: []byte("hello")})
	if err != nil {
		t.Fatal(err)
	}
	if string(resp.Body) != `{"ok":true}` {
		t.Errorf("response body %q", resp.Body)
	}
	if got.Method != http.MethodPost || got.URL.RequestURI() != "/p?q=1" || string(body) != "hello" {
		t.Errorf("got %s %s %q", got.Method, got.URL.RequestURI(), body)
	}
	for k, want := range map[string]string{"Content-Type": "text/plain", "User-Agent": "herald-test", "Idempotency-Key": "k1"} {
		if v := got.Header.Get(k); v != want {
			t.Errorf("header %s = %q, want %q", k, v, want)
		}
	}
}

// TestTraceContext: the trace context a delivery's context carries is
// sent as request headers; without one, none is sent.
func TestTraceContext(t *testing.T) {
	headers := make(chan http.Header, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		headers <- r.Header.Clone()
	}))
	defer srv.Close()
	c := httppost.New(httppost.Options{})
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	ctx := delivery.WithTraceContext(t.Context(), map[string]string{"traceparent": tp, "tracestate": "v=1"})
	if _, err := c.Post(ctx, &httppost.Request{What: "x", URL: srv.URL, Body: []byte("{}")}); err != nil {
		t.Fatal(err)
	}
	h := <-headers
	if h.Get("Traceparent") != tp || h.Get("Tracestate") != "v=1" {
		t.Errorf("traceparent %q, tracestate %q; want %q, %q", h.Get("Traceparent"), h.Get("Tracestate"), tp, "v=1")
	}
	if _, err := c.Post(t.Context(), &httppost.Request{What: "x", URL: srv.URL, Body: []byte("{}")}); err != nil {
		t.Fatal(err)
	}
	if h := <-headers; h.Get("Traceparent") != "" {
		t.Errorf("traceparent %q sent without a trace context", h.Get("Traceparent"))
	}
}

func TestBadURL(t *testing.T) {
	c := httppost.New(httppost.Options{})
	for _, u := range []string{"", "ftp://example.test/x", "http://", "://bad", "hooks.example.test/x"} {
		_, err := c.Post(t.Context(), &httppost.Request{What: "hook", URL: u})
		if err == nil || !delivery.IsPermanent(err) {
			t.Errorf("Post(%q) = %v, want a permanent error", u, err)
		}
	}
}

func TestContext(t *testing.T) {
	r := newReceiver(t, step{hang: true})
	c := httppost.New(httppost.Options{Timeout: time.Minute})

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := c.Post(ctx, &httppost.Request{What: "hook", URL: r.URL}); !errors.Is(err, context.Canceled) {
		t.Errorf("Post with a cancelled context = %v, want context.Canceled", err)
	}

	ctx, cancel = context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Post(ctx, &httppost.Request{What: "hook", URL: r.URL})
	if !errors.Is(err, context.DeadlineExceeded) || delivery.IsPermanent(err) {
		t.Errorf("Post past its deadline = %v, want a transient context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Post returned %v after its context's deadline", d)
	}

	// The context ends during an in-call wait (retries asked for).
	r2 := newReceiver(t, step{status: 503, header: map[string]string{"Retry-After": "2"}})
	ctx, cancel = context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	_, err = httppost.New(httppost.Options{MaxWait: 5 * time.Second, Retries: 1}).Post(ctx, &httppost.Request{What: "hook", URL: r2.URL})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Post ended during a wait = %v, want context.DeadlineExceeded", err)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		v    string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{"30", 30 * time.Second, true},
		{" 7 ", 7 * time.Second, true},
		{"-1", 0, false},
		{"soon", 0, false},
		{"99999999999", 24 * time.Hour, true},
		{"Tue, 01 Dec 2026 12:01:00 GMT", time.Minute, true},
		{"Tue, 01 Dec 2026 11:00:00 GMT", 0, true},
	} {
		h := http.Header{}
		if tc.v != "" {
			h.Set("Retry-After", tc.v)
		}
		got, ok := httppost.RetryAfter(h, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("RetryAfter(%q) = %v, %t; want %v, %t", tc.v, got, ok, tc.want, tc.ok)
		}
	}
}

func TestExcerpt(t *testing.T) {
	long := strings.Repeat("é", 300)
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"  channel_not_found\n", "channel_not_found"},
		{"line one\r\nline\ttwo", "line one line two"},
		{"bad \xff\xfe utf8 \x00 nul", "bad utf8 nul"},
		{long, strings.Repeat("é", 100) + "…"},
	} {
		if got := httppost.Excerpt([]byte(tc.in)); got != tc.want {
			t.Errorf("Excerpt(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
