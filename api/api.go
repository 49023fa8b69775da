package api

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/google/uuid"

	"github.com/heraldhq/herald/api/auth"
	"github.com/heraldhq/herald/backfill"
	"github.com/heraldhq/herald/clock"
	"github.com/heraldhq/herald/scheduler"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/webhook"
)

// Defaults of Config's zero values.
const (
	// MaxBodyDefault bounds a request body: a payload at the store's
	// default limit (1 MiB) and the request around it.
	MaxBodyDefault = 1<<20 + 64<<10
	// ReadyTimeoutDefault bounds the store ping of a readiness probe.
	ReadyTimeoutDefault = 2 * time.Second
)

// maxLimit is the largest page a list returns.
const maxLimit = 1000

// Authenticator finds who sent a request. An error means 401 (503 when it
// matches auth.ErrUnavailable). Package api/auth has static tokens and
// JWTs.
type Authenticator interface {
	Authenticate(r *http.Request) (scheduler.Principal, error)
}

// AuthenticatorFunc adapts a function to Authenticator.
type AuthenticatorFunc func(r *http.Request) (scheduler.Principal, error)

// Authenticate implements Authenticator.
func (f AuthenticatorFunc) Authenticate(r *http.Request) (scheduler.Principal, error) { return f(r) }

// Observer is told about requests, for metrics (package metrics implements
// it). Its methods must be quick and safe for concurrent use.
type Observer interface {
	// ObserveHTTP is called once per request, with the route's pattern
	// ("GET /v1/runs/{id}"; "" when none matched).
	ObserveHTTP(route string, code int, d time.Duration)
	// ObserveWebhookAccepted is called for each webhook event recorded.
	ObserveWebhookAccepted(source string, duplicate bool)
	// CollectWebhookRejections is handed the webhook handler's rejection
	// counts once, when the API is built.
	CollectWebhookRejections(f func() []webhook.Rejection)
}

// RateLimit is a per-principal token bucket.
type RateLimit struct {
	// PerSecond is the sustained rate; zero means no limit.
	PerSecond float64
	// Burst is the most requests at once; zero means twice PerSecond
	// (at least 1).
	Burst int
	// MaxPrincipals bounds the principals tracked at once; the least
	// recently seen are forgotten first. Zero means 10,000.
	MaxPrincipals int
}

// Config configures the API.
type Config struct {
	// Scheduler serves the requests. Required.
	Scheduler *scheduler.Scheduler
	// Authenticator authenticates every /v1 request but the webhooks and
	// the OpenAPI document. Required.
	Authenticator Authenticator
	// Webhooks are served at POST /v1/webhooks/{source}; each source
	// verifies its own requests. A source naming an unregistered agent or
	// delivery channel is refused by New.
	Webhooks []webhook.Source
	// RateLimit limits each principal's requests; the zero value means no
	// limit. Webhooks, health, readiness and metrics are not limited.
	RateLimit RateLimit
	// Backfill, when set, serves /v1/workspaces (the chat workspaces whose
	// history the slack_backfill agent collects, with their tokens sealed)
	// and checks the runs and schedules of that agent: their workspace
	// must be their owner's, and a workspace has at most one active
	// backfill schedule.
	Backfill *backfill.Vault
	// Messages serves GET /v1/workspaces/{id}/messages: the collected
	// messages. Required with Backfill.
	Messages store.MessageStore
	// Observer is told about requests; nil means none.
	Observer Observer
	// MetricsHandler serves GET /metrics (for example promhttp.HandlerFor
	// on the caller's registry); nil means no /metrics route. It is not
	// authenticated: expose it on a network the scrapers share only.
	MetricsHandler http.Handler
	// MaxBody bounds a request body in bytes; zero means MaxBodyDefault.
	// Webhook sources set their own.
	MaxBody int64
	// Logger receives one line per request at info level (method, route,
	// status, duration, subject and request id: the client's X-Request-Id
	// when it sent a sane one, else a new one, echoed in the answer), and
	// the errors answered 5xx; nil means none.
	Logger log.Logger
	// Clock is the clock for rate limits and request timing; nil means
	// clock.System.
	Clock clock.Clock
}

// API is the REST API: an http.Handler. Create it with New.
type API struct {
	sched    *scheduler.Scheduler
	authn    Authenticator
	observer Observer
	limiter  *limiter
	vault    *backfill.Vault    // nil: no workspaces
	messages store.MessageStore // with vault
	logger   log.Logger
	maxBody  int64
	now      func() time.Time
	mux      *http.ServeMux
}

var _ http.Handler = (*API)(nil)

// New checks cfg and returns the API.
func New(cfg Config) (*API, error) {
	if cfg.Scheduler == nil {
		return nil, errors.New("api: Config.Scheduler is required")
	}
	if cfg.Authenticator == nil {
		return nil, errors.New("api: Config.Authenticator is required")
	}
	if cfg.MaxBody < 0 {
		return nil, errors.New("api: Config.MaxBody must not be negative")
	}
	if cfg.Backfill != nil && cfg.Messages == nil {
		return nil, errors.New("api: Config.Messages is required with Config.Backfill")
	}
	if cfg.RateLimit.PerSecond < 0 || cfg.RateLimit.Burst < 0 || cfg.RateLimit.MaxPrincipals < 0 {
		return nil, errors.New("api: Config.RateLimit: fields must not be negative")
	}
	a := &API{sched: cfg.Scheduler, authn: cfg.Authenticator, observer: cfg.Observer, logger: cfg.Logger,
		vault: cfg.Backfill, messages: cfg.Messages,
		maxBody: cfg.MaxBody, now: clock.OrSystem(cfg.Clock).Now, mux: http.NewServeMux()}
	if a.logger == nil {
		a.logger = log.NewNopLogger()
	}
	if a.maxBody == 0 {
		a.maxBody = MaxBodyDefault
	}
	if cfg.RateLimit.PerSecond > 0 {
		a.limiter = newLimiter(cfg.RateLimit, a.now)
	}
	if err := a.routes(cfg); err != nil {
		return nil, err
	}
	return a, nil
}

// routes registers every route.
func (a *API) routes(cfg Config) error {
	m := a.mux
	open := func(pattern string, h http.HandlerFunc) { m.Handle(pattern, h) }
	authed := func(pattern string, h func(http.ResponseWriter, *http.Request, scheduler.Principal)) {
		m.Handle(pattern, a.authenticated(h))
	}
	open("GET /healthz", a.healthz)
	open("GET /readyz", a.readyz)
	if cfg.MetricsHandler != nil {
		m.Handle("GET /metrics", cfg.MetricsHandler)
	}
	open("GET /v1/openapi.json", serveOpenAPI)

	authed("POST /v1/schedules", a.createSchedule)
	authed("GET /v1/schedules", a.listSchedules)
	authed("GET /v1/schedules/{id}", a.getSchedule)
	authed("PATCH /v1/schedules/{id}", a.patchSchedule)
	authed("DELETE /v1/schedules/{id}", a.deleteSchedule)
	authed("POST /v1/schedules/{id}/pause", a.scheduleAction(a.sched.PauseSchedule))
	authed("POST /v1/schedules/{id}/resume", a.scheduleAction(a.sched.ResumeSchedule))
	authed("POST /v1/schedules/{id}/run", a.runSchedule)

	authed("POST /v1/runs", a.enqueue)
	authed("GET /v1/runs", a.listRuns)
	authed("GET /v1/runs/{id}", a.getRun)
	authed("POST /v1/runs/{id}/cancel", a.cancelRun)
	authed("GET /v1/summary", a.summary)

	authed("POST /v1/triggers/preview", a.preview)
	authed("GET /v1/events", a.listEvents)
	authed("GET /v1/events/{id}", a.getEvent)
	authed("GET /v1/agents", a.agents)
	authed("GET /v1/channels", a.channels)
	if a.vault != nil {
		a.workspaceRoutes(authed)
	}

	if len(cfg.Webhooks) > 0 {
		var sink webhook.Sink = a.sched
		if a.observer != nil {
			sink = observedSink{Scheduler: a.sched, observer: a.observer}
		}
		h, err := webhook.NewHandler(webhook.HandlerConfig{Sources: cfg.Webhooks, Sink: sink,
			Logger: log.With(a.logger, "component", "webhook")})
		if err != nil {
			return fmt.Errorf("api: %w", err)
		}
		m.Handle("/v1/webhooks/{source}", h)
		if a.observer != nil {
			a.observer.CollectWebhookRejections(h.Rejections)
		}
	}
	return nil
}

// observedSink is the scheduler as a webhook sink, telling the observer of
// each event it records.
type observedSink struct {
	*scheduler.Scheduler
	observer Observer
}

func (s observedSink) Accept(ctx context.Context, e *webhook.Event) (*webhook.Receipt, error) {
	rc, err := s.Scheduler.Accept(ctx, e)
	if err == nil {
		s.observer.ObserveWebhookAccepted(e.Source, rc.Duplicate)
	}
	return rc, err
}

// ServeHTTP implements http.Handler: it stamps a request id, routes the
// request, and logs and observes it.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := a.now()
	id := r.Header.Get("X-Request-Id")
	if !requestIDPattern.MatchString(id) {
		id = newRequestID()
	}
	w.Header().Set("X-Request-Id", id)
	subject := new(string) // filled in by authenticated, for the log line
	ctx := context.WithValue(r.Context(), requestIDKey{}, id)
	r = r.WithContext(context.WithValue(ctx, subjectKey{}, subject))
	rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			level.Error(a.logger).Log("msg", "handler panicked", "request_id", id, "panic", fmt.Sprint(v))
			if !rec.wrote {
				writeProblem(rec, problem(http.StatusInternalServerError, problemInternal, "internal error; the request id is "+id))
			}
		}
		d := a.now().Sub(start)
		route := r.Pattern
		if a.observer != nil {
			a.observer.ObserveHTTP(route, rec.code, d)
		}
		l := level.Info(a.logger)
		if rec.code >= 500 {
			l = level.Warn(a.logger)
		}
		l.Log("msg", "request", "request_id", id, "method", r.Method, "route", route, "status", rec.code,
			"duration", d, "subject", *subject)
	}()
	if _, pattern := a.mux.Handler(r); pattern == "" {
		a.noRoute(rec, r)
		return
	}
	a.mux.ServeHTTP(rec, r)
}

// noRoute answers a request no route matches as a problem: 405 (with
// Allow) when the path has routes for other methods, else 404.
func (a *API) noRoute(w http.ResponseWriter, r *http.Request) {
	h, _ := a.mux.Handler(r)
	probe := &headerProbe{header: http.Header{}}
	h.ServeHTTP(probe, r)
	if probe.code == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", probe.header.Get("Allow"))
		writeProblem(w, problem(http.StatusMethodNotAllowed, problemMethod, r.Method+" is not allowed here; allowed: "+probe.header.Get("Allow")))
		return
	}
	writeProblem(w, problem(http.StatusNotFound, problemNotFound, "no such route: see /v1/openapi.json"))
}

// headerProbe records the status and headers of the mux's own answer to
// an unrouted request, and drops its body.
type headerProbe struct {
	header http.Header
	code   int
}

func (p *headerProbe) Header() http.Header         { return p.header }
func (p *headerProbe) WriteHeader(code int)        { p.code = code }
func (p *headerProbe) Write(b []byte) (int, error) { return len(b), nil }

// statusRecorder remembers the status code written.
type statusRecorder struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wrote {
		s.code, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the writer underneath.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

type requestIDKey struct{}

// subjectKey holds a *string the authentication fills in, for the log
// line that ServeHTTP writes.
type subjectKey struct{}

// requestIDPattern is what a client's X-Request-Id must look like to be
// kept; anything else is replaced.
var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// requestID is r's request id.
func requestID(r *http.Request) string {
	id, _ := r.Context().Value(requestIDKey{}).(string)
	return id
}

// authenticated wraps h with authentication and the rate limit.
func (a *API) authenticated(h func(http.ResponseWriter, *http.Request, scheduler.Principal)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := a.authn.Authenticate(r)
		if err != nil {
			a.refuse(w, r, err)
			return
		}
		if p.Subject == "" {
			a.refuse(w, r, fmt.Errorf("%w: the credentials name no subject", auth.ErrInvalidToken))
			return
		}
		if holder, ok := r.Context().Value(subjectKey{}).(*string); ok {
			*holder = p.Subject
		}
		if a.limiter != nil {
			if wait, ok := a.limiter.allow(p.Subject); !ok {
				secs := max(1, int((wait+time.Second-1)/time.Second))
				w.Header().Set("Retry-After", fmt.Sprint(secs))
				writeProblem(w, problem(http.StatusTooManyRequests, problemRateLimited,
					fmt.Sprintf("rate limit reached for %s; retry in %d s", p.Subject, secs)))
				return
			}
		}
		h(w, r, p)
	})
}

// refuse answers an authentication failure: 401 with a WWW-Authenticate
// challenge, or 503 when the authenticator cannot decide now.
func (a *API) refuse(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, auth.ErrUnavailable) {
		a.fail(w, r, "", err, nil)
		return
	}
	detail := "a bearer token is required: send Authorization: Bearer <token>"
	challenge := `Bearer realm="herald"`
	if !errors.Is(err, auth.ErrNoCredentials) {
		detail = "the bearer token is not valid"
		// The auth package's reasons are fit for the client ("token
		// expired"); another authenticator's text may not be.
		var ae *auth.Error
		if errors.As(err, &ae) && ae.Reason != "" {
			detail += ": " + ae.Reason
		}
		challenge = `Bearer realm="herald", error="invalid_token"`
	}
	level.Debug(a.logger).Log("msg", "authentication failed", "request_id", requestID(r), "err", err)
	w.Header().Set("WWW-Authenticate", challenge)
	writeProblem(w, problem(http.StatusUnauthorized, problemUnauthorized, detail))
}

// writeJSON writes v with code.
func (a *API) writeJSON(w http.ResponseWriter, r *http.Request, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		a.fail(w, r, "", fmt.Errorf("encode response: %w", err), nil)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}

// validID reports whether s is an id this API hands out (a UUID): other
// ids are answered 404 without a store query.
func validID(s string) bool {
	if len(s) != 36 {
		return false
	}
	_, err := uuid.Parse(s)
	return err == nil
}

func base64Std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
